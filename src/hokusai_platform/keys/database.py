"""Engines for the keys database, and its schema migrations (shipped inside the package).

SQLite (the default, one file under the data dir) and PostgreSQL (through psycopg 3) are
supported. Migrations run on first use and by `hokusai keys migrate`; on PostgreSQL an
advisory lock makes gateways that start together take turns instead of racing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Not alembic's default name: the keys may share a database with MLflow, which uses that one.
VERSION_TABLE = "hokusai_keys_alembic_version"
_MIGRATION_LOCK_ID = 0x686B6579  # "hkey"
_MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseURLError(ValueError):
    pass


def normalise_url(url: str) -> str:
    """`postgres://` and `postgresql://` mean psycopg 3, the driver this package ships with."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"{url!r} is not a SQLAlchemy database URL") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseURLError("only sqlite:// and postgresql:// URLs are supported")
    return parsed.render_as_string(hide_password=False)


def create(url: str) -> Engine:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, record: object) -> None:
    # WAL lets the gateways read while `hokusai keys` writes; foreign keys as on PostgreSQL.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def migrate(engine: Engine) -> str | None:
    """Bring the schema to the newest revision; returns it. Cheap when already there."""
    head = head_revision()
    if current_revision(engine) == head:
        return head
    config = _config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head
