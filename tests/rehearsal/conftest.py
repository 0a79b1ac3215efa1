from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from support.rehearsal import Rehearsal, rehearse


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    """The rehearsal, run once for the module's tests; its shape still runs during them."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (.ci/run installs it from Debian)")
    with rehearse(tmp_path_factory.mktemp("rehearsal")) as figures:
        yield figures
