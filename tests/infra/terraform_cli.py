"""The commands the infra tests run: the real `terraform` on a copy of deploy/terraform, offline
and pointed at moto_server, and `hokusai` in-process (the drift replay runs it as a process)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner, Result

from hokusai_platform.cli import cli
from hokusai_platform.infra.layout import Environment

TREE = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
ENVIRONMENTS = ("development", "staging", "production")

# The services the configuration talks to; the test sends each to moto_server.
_ENDPOINTS = (
    "acm",
    "cloudwatch",
    "cloudwatchlogs",
    "ec2",
    "ecs",
    "elbv2",
    "iam",
    "rds",
    "s3",
    "secretsmanager",
    "servicediscovery",
    "sns",
    "ssm",
    "sts",
)


def cli_environment(directory: Path) -> dict[str, str]:
    """os.environ plus a CLI config that installs the provider from the local mirror only."""
    config = directory / "terraform.rc"
    config.write_text(
        'provider_installation {\n  filesystem_mirror {\n    path = "/opt/tf-plugins"\n  }\n}\n'
    )
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(config),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def copy_tree(destination: Path) -> Path:
    """The committed tree (its provider lock file included), copied so that nothing terraform
    writes lands in the checkout."""
    return Path(shutil.copytree(TREE, destination, ignore=shutil.ignore_patterns(".terraform")))


def point_at_moto(environment: Environment, moto_url: str, region: str) -> None:
    """Override files (Terraform merges `*_override.tf` last) and the region to apply in.

    State stays local (backend_override.tf): the S3 backend's settings are the committed ones,
    checked by `hokusai infra lint`; applying here proves the resources, not the bucket.
    """
    root = environment.root
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    endpoints = "".join(f'    {name} = "{moto_url}"\n' for name in _ENDPOINTS)
    (root / "moto_override.tf").write_text(
        'provider "aws" {\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_requesting_account_id  = true\n"
        "  s3_use_path_style           = true\n"
        f"  endpoints {{\n{endpoints}  }}\n"
        "}\n"
    )
    # The only variable that differs from the committed environment.
    variables = environment.variables_file
    committed = variables.read_text()
    moved = re.sub(r'(?m)^region(\s*)= ".*"$', rf'region\1= "{region}"', committed)
    assert moved != committed, f"no region in {variables}"
    variables.write_text(moved)


def environment_process(environment: Environment, env: dict[str, str]) -> dict[str, str]:
    """`env` for `terraform -chdir=<root>` in `environment`: its own data directory."""
    return {**env, "TF_DATA_DIR": str(environment.data_dir)}


def terraform(
    root: Path, env: dict[str, str], *args: str, codes: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["terraform", f"-chdir={root}", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode not in codes:
        raise AssertionError(
            f"terraform {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def hokusai(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="hokusai")
