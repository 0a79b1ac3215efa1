from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.echo_upstream import EchoUpstream
from support.processes import Server, start_gateway
from support.secured import Keys, create_keys, secured_env


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    keys = create_keys(tmp_path_factory.mktemp("keys"))
    yield keys
    keys.store.close()


@pytest.fixture(scope="module")
def guarded_echo(
    echo: EchoUpstream, keys: Keys, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A secured gateway (URL, audit log) in front of an upstream that records every request."""
    directory = tmp_path_factory.mktemp("guarded-echo")
    audit = directory / "audit.jsonl"
    env = secured_env(
        keys,
        redis_url,
        MLFLOW_SERVER_URL=echo.url,
        HOKUSAI_AUDIT_LOG=str(audit),
        HOKUSAI_ALLOWED_HOSTS="127.0.0.1,localhost",
        HOKUSAI_MAX_HEADER_BYTES="4096",
        HOKUSAI_MAX_JSON_BODY_BYTES="65536",
        HOKUSAI_MAX_ARTIFACT_BYTES="1048576",
        HOKUSAI_CLIENT_TIMEOUT="2",
    )
    server: Server
    server, url = start_gateway(directory / "gateway.log", env)
    yield url, audit
    server.stop()
