from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import fresh_postgres_database

from hokusai_platform.keys.store import KeyStore


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty keys database: a SQLite file, then a database on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keys.db'}"
    server_url: str = request.getfixturevalue("postgres_url")
    return fresh_postgres_database(server_url, f"keys_{abs(hash(request.node.name)) % 10**8}")


@pytest.fixture
def store(database_url: str) -> Iterator[KeyStore]:
    opened = KeyStore.open(database_url)
    yield opened
    opened.close()
