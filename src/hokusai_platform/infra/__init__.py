"""Infrastructure as code: the Terraform tree under deploy/terraform, linted and pinned.

`hcl` reads the tree with source lines, `lint` and `plan` judge a tree and a plan with the
checks' shared result type, `pin` edits an environment's variables file, `cli` is the commands.
"""
