"""Where things are in the Terraform tree: one root, and each environment beside it.

`deploy/terraform` is the root every environment applies. An environment is what differs:
`environments/<env>/terraform.tfvars` (its variables, where `hokusai endpoint pin` writes),
`backend.hcl` (where its state is) and a Terraform data directory of its own
(`TF_DATA_DIR`), so that no command reads one environment's variables against another's state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Names the tree when the working directory is not in a checkout.
ROOT_VARIABLE = "HOKUSAI_TERRAFORM_ROOT"
TREE = Path("deploy", "terraform")


class LayoutError(Exception):
    """No Terraform tree or no such environment; the message says where it looked."""


def find_root(explicit: Path | None = None) -> Path:
    """`explicit` (--terraform-root), else $HOKUSAI_TERRAFORM_ROOT, else deploy/terraform in
    the working directory or one of its parents."""
    if explicit is not None:
        return explicit.resolve()
    if named := os.environ.get(ROOT_VARIABLE):
        if not Path(named).is_dir():
            raise LayoutError(f"{ROOT_VARIABLE}={named} is not a directory")
        return Path(named).resolve()
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / TREE).is_dir():
            return directory / TREE
    raise LayoutError(f"no {TREE} in {here} or above; pass --terraform-root or set {ROOT_VARIABLE}")


@dataclass(frozen=True)
class Environment:
    root: Path
    name: str

    @property
    def directory(self) -> Path:
        return self.root / "environments" / self.name

    @property
    def variables_file(self) -> Path:
        return self.directory / "terraform.tfvars"

    @property
    def data_dir(self) -> Path:
        """Its `TF_DATA_DIR`: the backend it was initialised with, and the providers."""
        return self.directory / ".terraform"


def environment(root: Path, name: str) -> Environment:
    found = Environment(root, name)
    if not found.variables_file.is_file():
        known = sorted(p.parent.name for p in root.glob("environments/*/terraform.tfvars"))
        raise LayoutError(
            f"no environment {name!r} in {root / 'environments'} "
            f"(have: {', '.join(known) or 'none'})"
        )
    return found
