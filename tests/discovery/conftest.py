from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.discovery import Discovery, start_discovery


@pytest.fixture(scope="module")
def discovery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Discovery]:
    """`hokusai discovery serve` for the module's tests."""
    discovery = start_discovery(tmp_path_factory.mktemp("discovery") / "discovery.log")
    yield discovery
    discovery.server.stop()
