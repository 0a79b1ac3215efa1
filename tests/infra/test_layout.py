"""Where the commands find the Terraform tree: told, named in the environment, or found from
the working directory; never guessed from where the package is installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.terraform import TREE, copy_tree, hokusai

from hokusai_platform.infra import layout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return copy_tree(tmp_path / "checkout" / "deploy" / "terraform")


def test_the_working_directory_or_a_parent_holds_it(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(layout.ROOT_VARIABLE, raising=False)
    monkeypatch.chdir(tree.parents[1] / "deploy")

    assert layout.find_root() == tree.resolve()


def test_the_option_comes_before_the_variable_which_comes_before_the_working_directory(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TREE)
    monkeypatch.setenv(layout.ROOT_VARIABLE, str(tree))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    assert layout.find_root() == tree.resolve()
    assert layout.find_root(elsewhere) == elsewhere.resolve()


def test_nowhere_to_find_it_is_one_line_naming_the_ways_to_say_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(layout.ROOT_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)

    linted = hokusai("infra", "lint")
    pinned = hokusai("endpoint", "unpin", "mlflow", "--env=staging")

    for result in (linted, pinned):
        assert result.exit_code == 2
        assert isinstance(result.exception, SystemExit)
        [line] = result.stderr.strip().splitlines()
        assert f"no deploy/terraform in {tmp_path.resolve()} or above" in line
        assert "--terraform-root" in line and layout.ROOT_VARIABLE in line


def test_a_variable_naming_no_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(layout.ROOT_VARIABLE, str(tmp_path / "missing"))

    with pytest.raises(layout.LayoutError, match="is not a directory"):
        layout.find_root()


def test_an_environment_is_its_variables_beside_the_one_root(tree: Path) -> None:
    staging = layout.environment(tree, "staging")

    assert staging.variables_file == tree / "environments" / "staging" / "terraform.tfvars"
    assert staging.data_dir == tree / "environments" / "staging" / ".terraform"
    with pytest.raises(layout.LayoutError, match=r"no environment 'qa'.*development, production"):
        layout.environment(tree, "qa")
