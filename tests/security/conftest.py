from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gateway.echo_upstream import EchoUpstream, echo_upstream
from processes import Server, start_gateway
from secured import GENEROUS, Keys, secured_env

from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    url = f"sqlite:///{tmp_path_factory.mktemp('keys') / 'keys.db'}"
    store = KeyStore.open(url)
    revoked = store.create("revoked", Scope.ADMIN, GENEROUS)
    store.revoke(revoked.info.id)
    yield Keys(
        database_url=url,
        store=store,
        read=store.create("reader", Scope.READ, GENEROUS).secret,
        write=store.create("writer", Scope.WRITE, GENEROUS).secret,
        admin=store.create("admin", Scope.ADMIN, GENEROUS).secret,
        expired=store.create(
            "expired", Scope.ADMIN, GENEROUS, datetime.now(UTC) - timedelta(minutes=1)
        ).secret,
        revoked=revoked.secret,
    )
    store.close()


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoUpstream]:
    with echo_upstream() as upstream:
        yield upstream


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
