"""Infrastructure as code: the Terraform tree under deploy/terraform, read, linted and pinned.

`layout` finds the root and an environment's files in it, `hcl` reads the tree with source
lines, `values` evaluates what is known before apply and `expectations` what an environment
declares; `lint` (with `production_rules`, over `containers`) and `plan` judge a tree and a
plan, `drift` which changes a plan found were made outside Terraform, `pin` edits an
environment's variables file, `cli` is the commands. Nothing here imports `doctor`.
"""
