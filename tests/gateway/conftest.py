from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.echo_upstream import EchoUpstream
from support.processes import Server, start_gateway


@pytest.fixture(scope="module")
def echo_gateway(
    echo: EchoUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Server]]:
    """A gateway (URL and process) whose upstream records every request it receives."""
    log: Path = tmp_path_factory.mktemp("echo-gateway") / "gateway.log"
    server, url = start_gateway(
        log, {"MLFLOW_SERVER_URL": echo.url, "HOKUSAI_UPSTREAM_READ_TIMEOUT": "1"}
    )
    yield url, server
    server.stop()
