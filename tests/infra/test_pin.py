"""`hokusai endpoint pin|unpin`: one recorded variable in one file, and back, byte for byte."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from support.terraform import ENVIRONMENTS, copy_tree, hokusai, terraform

from hokusai_platform.infra import pin


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return copy_tree(tmp_path / "terraform")


def snapshot(tree: Path) -> dict[Path, bytes]:
    return {p.relative_to(tree): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pin_then_unpin_leaves_the_tree_byte_identical(tree: Path, environment: str) -> None:
    before = snapshot(tree)
    variables = Path("environments", environment, "terraform.tfvars")

    pinned = hokusai(
        "endpoint", "pin", "mlflow", "http://10.0.1.88:5000", f"--env={environment}",
        "--reason=Cloud Map lost the API's registration", f"--terraform-root={tree}",
    )  # fmt: skip
    after_pin = snapshot(tree)
    unpinned = hokusai(
        "endpoint", "unpin", "mlflow", f"--env={environment}", f"--terraform-root={tree}"
    )

    assert pinned.exit_code == 0, pinned.output
    assert [p for p in before if before[p] != after_pin[p]] == [variables]
    assert (
        f"TF_DATA_DIR=environments/{environment}/.terraform terraform -chdir={tree} apply "
        f"-var-file={variables}"
    ) in pinned.stdout
    assert unpinned.exit_code == 0, unpinned.output
    assert snapshot(tree) == before


def test_the_pin_records_url_reason_and_date_in_formatted_hcl(
    tree: Path, terraform_env: dict[str, str]
) -> None:
    variables = tree / "environments" / "staging" / "terraform.tfvars"
    reason = 'MLflow "moved" ${oops} \\ {braces}'

    made = pin.pin(variables, "http://10.0.1.88:5000/", reason, date(2026, 1, 5))

    assert made == pin.Pin("http://10.0.1.88:5000", reason, date(2026, 1, 5))
    assert pin.read(variables) == made  # quotes, backslashes and `${` survive the round trip
    terraform(variables.parent, terraform_env, "fmt", "-check", "-no-color", variables.name)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["pin", "mlflow", "http://10.0.1.88:5000", "--env=qa", "--reason=x"],
            "no environment 'qa'",
        ),
        (["pin", "mlflow", "10.0.1.88:5000", "--env=staging", "--reason=x"], "not an http(s) URL"),
        (["pin", "mlflow", "http://10.0.1.88", "--env=staging", "--reason=x"], "explicit port"),
        (["pin", "mlflow", "http://h:5000/x", "--env=staging", "--reason=x"], "no path"),
        (["pin", "mlflow", "http://h:5000", "--env=staging", "--reason= "], "--reason must be"),
        (["unpin", "mlflow", "--env=staging"], "mlflow is not pinned"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    tree: Path, arguments: list[str], message: str
) -> None:
    before = snapshot(tree)

    result = hokusai("endpoint", *arguments, f"--terraform-root={tree}")

    assert result.exit_code in (1, 2)
    assert isinstance(result.exception, SystemExit)  # not a crash
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(tree) == before


def test_a_second_pin_is_refused_naming_the_first(tree: Path) -> None:
    variables = tree / "environments" / "production" / "terraform.tfvars"
    pin.pin(variables, "http://10.0.1.88:5000", "outage", date(2026, 1, 5))

    with pytest.raises(
        pin.PinError, match=r"already pinned to http://10.0.1.88:5000 since 2026-01-05"
    ):
        pin.pin(variables, "http://10.0.1.89:5000", "again", date(2026, 1, 6))
