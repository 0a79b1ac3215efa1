"""The schema is created and upgraded by the migrations shipped in the package."""

from __future__ import annotations

from sqlalchemy import inspect, text

from hokusai_platform.keys import database


def test_migrate_creates_the_schema_once_and_is_then_a_no_op(database_url: str) -> None:
    engine = database.create(database_url)
    assert database.current_revision(engine) is None
    head = database.migrate(engine)
    assert head is not None and head == database.head_revision()
    assert database.current_revision(engine) == head
    assert "api_keys" in inspect(engine).get_table_names()
    assert database.migrate(engine) == head
    engine.dispose()


def test_a_database_shared_with_mlflow_keeps_mlflows_alembic_version(database_url: str) -> None:
    engine = database.create(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('mlflow-head')"))
    database.migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            ("mlflow-head",)
        ]
    assert database.VERSION_TABLE in inspect(engine).get_table_names()
    engine.dispose()


def test_postgres_urls_use_psycopg_3() -> None:
    assert database.normalise_url("postgresql://u:p@db/keys").startswith("postgresql+psycopg://")
    assert database.normalise_url("postgres://u:p@db/keys").startswith("postgresql+psycopg://")
