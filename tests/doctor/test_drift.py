"""The Terraform layer: real `terraform` against moto_server, drift made with boto3."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.catalog import diagnose
from hokusai_platform.doctor.session import open_context
from hokusai_platform.infra.expectations import Expectations
from hokusai_platform.infra.layout import Environment

PARAMETER = "/hokusai/doctor-test/redis/endpoint"


def provider(moto_url: str, region: str) -> str:
    return f"""
provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {{
    ssm = "{moto_url}"
  }}
}}
"""


def configuration(moto_url: str, region: str, value: str = "redis.internal:6379") -> str:
    return f"""{provider(moto_url, region)}
# No tags: a refresh reads `tags = {{}}` back for the state's null, which is no one's change.
resource "aws_ssm_parameter" "redis_endpoint" {{
  name  = "{PARAMETER}"
  type  = "String"
  value = "{value}"
}}
"""


@pytest.fixture
def terraform_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    cli_config = tmp_path / "terraform.rc"
    cli_config.write_text(
        'provider_installation {\n  filesystem_mirror {\n    path = "/opt/tf-plugins"\n  }\n}\n'
    )
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    return dict(os.environ)


def declare(tmp_path: Path, main_tf: str) -> Environment:
    """A root of one file with `development` beside it, laid out as deploy/terraform is."""
    environment = Environment(tmp_path / "terraform", "development")
    environment.directory.mkdir(parents=True)
    environment.variables_file.write_text("")
    (environment.root / "main.tf").write_text(main_tf)
    return environment


def terraform(environment: Environment, *args: str) -> None:
    subprocess.run(
        ["terraform", f"-chdir={environment.root}", *args, "-input=false", "-no-color"],
        env={**os.environ, "TF_DATA_DIR": str(environment.data_dir)},
        check=True,
        capture_output=True,
        timeout=300,
    )


def apply(environment: Environment) -> None:
    terraform(environment, "init")
    terraform(environment, "apply", "-auto-approve", f"-var-file={environment.variables_file}")


def record_terraform_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """From now on `terraform` on PATH notes its subcommand in the returned file, then runs
    the real terraform with the same arguments."""
    real = shutil.which("terraform")
    shim, noted = tmp_path / "bin" / "terraform", tmp_path / "terraform-commands"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$2" >> {noted}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    noted.touch()
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return noted


def run_terraform_layer(expectations: Expectations, environment: Environment) -> CheckResult:
    async def go() -> list[CheckResult]:
        async with open_context(expectations, with_aws=False, terraform=environment) as context:
            return (await diagnose(context, {"terraform"})).results

    [result] = asyncio.run(go())
    return result


def test_drift_made_outside_terraform_fails_naming_the_resource(
    expectations: Expectations,
    region: str,
    moto_url: str,
    tmp_path: Path,
    terraform_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = declare(tmp_path, configuration(moto_url, region))
    apply(environment)
    commands = record_terraform_commands(tmp_path, monkeypatch)

    assert run_terraform_layer(expectations, environment).status == "ok"
    # The refresh finds the tags read back, but the plan changes nothing: no `show -json`.
    assert commands.read_text().split() == ["plan"]

    boto3.client("ssm", region_name=region).put_parameter(
        Name=PARAMETER, Value="10.0.1.88:6379", Type="String", Overwrite=True
    )
    drifted = run_terraform_layer(expectations, environment)

    assert commands.read_text().split() == ["plan", "plan", "show"]
    assert drifted.status == "fail"
    assert "aws_ssm_parameter.redis_endpoint: " in drifted.evidence
    assert "value" in drifted.evidence
    assert "terraform apply" in drifted.hint


def test_an_edit_not_yet_applied_is_not_drift(
    expectations: Expectations,
    region: str,
    moto_url: str,
    tmp_path: Path,
    terraform_env: dict[str, str],
) -> None:
    """The plan would change the value, and the refresh finds the tags read back: neither is
    a change made outside Terraform."""
    environment = declare(tmp_path, configuration(moto_url, region))
    apply(environment)
    (environment.root / "main.tf").write_text(configuration(moto_url, region, "redis.other:6379"))

    result = run_terraform_layer(expectations, environment)

    assert (result.status, result.evidence) == ("ok", "the environment matches its state")


def test_a_change_outside_terraform_that_a_planned_change_reads_is_reported(
    expectations: Expectations,
    region: str,
    moto_url: str,
    tmp_path: Path,
    terraform_env: dict[str, str],
) -> None:
    """The plan would not undo the change (its value is ignored), but it would copy it into
    another resource: Terraform lists it in relevant_attributes, and so does doctor."""
    environment = declare(
        tmp_path,
        provider(moto_url, region)
        + f"""
resource "aws_ssm_parameter" "redis_endpoint" {{
  name  = "{PARAMETER}"
  type  = "String"
  value = "redis.internal:6379"
  lifecycle {{
    ignore_changes = [value]
  }}
}}

resource "aws_ssm_parameter" "redis_copy" {{
  name  = "{PARAMETER}-copy"
  type  = "String"
  value = aws_ssm_parameter.redis_endpoint.value
}}
""",
    )
    apply(environment)
    boto3.client("ssm", region_name=region).put_parameter(
        Name=PARAMETER, Value="10.0.1.88:6379", Type="String", Overwrite=True
    )

    result = run_terraform_layer(expectations, environment)

    assert result.status == "fail"
    assert "aws_ssm_parameter.redis_endpoint: " in result.evidence
    assert "value" in result.evidence
    assert "redis_copy" not in result.evidence


def test_an_uninitialised_root_is_skipped_with_the_reason(
    expectations: Expectations, tmp_path: Path
) -> None:
    (tmp_path / "main.tf").write_text("")

    result = run_terraform_layer(expectations, Environment(tmp_path, "development"))

    assert result.status == "skipped"
    assert "not initialised" in result.evidence


def test_without_terraform_installed_the_layer_is_skipped(
    expectations: Expectations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    result = run_terraform_layer(expectations, Environment(tmp_path, "development"))

    assert result.status == "skipped"
    assert "terraform is not installed" in result.evidence
