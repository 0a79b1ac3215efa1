from __future__ import annotations

from pathlib import Path

import pytest
from support.terraform import cli_environment


@pytest.fixture(scope="module")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return cli_environment(tmp_path_factory.mktemp("terraform-cli"))


@pytest.fixture
def fixtures() -> Path:
    return Path(__file__).parent / "fixtures"
