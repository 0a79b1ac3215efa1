"""The schema is created and upgraded by the migrations shipped in the package."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from hokusai_platform.keys import database, tokens
from hokusai_platform.keys.grants import Level
from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore


def test_migrate_creates_the_schema_once_and_is_then_a_no_op(database_url: str) -> None:
    engine = database.create(database_url)
    assert database.current_revision(engine) is None
    head = database.migrate(engine)
    assert head is not None and head == database.head_revision()
    assert database.current_revision(engine) == head
    assert {"api_keys", "teams", "team_members", "grants"} <= set(inspect(engine).get_table_names())
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


def test_keys_made_before_grants_existed_keep_working_with_their_scopes_default(
    database_url: str,
) -> None:
    engine = database.create(database_url)
    config = database._config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    secret = tokens.new_secret()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_keys (id, name, scope, lookup, secret_sha256, rate_limit,"
                " rate_period_seconds, created_at) VALUES ('key_old', 'old', 'write', :lookup,"
                " :digest, 10, 1, CURRENT_TIMESTAMP)"
            ),
            {"lookup": tokens.lookup_of(secret), "digest": tokens.digest_of(secret)},
        )
    assert database.migrate(engine) == database.head_revision()
    store = KeyStore(engine)
    presented = tokens.parse(secret)
    assert presented is not None
    caller = store.identify(presented)
    assert caller is not None and caller.key.default_permission is None
    assert caller.access.for_model("any") is Level.EDIT
    assert caller.access.version == 0
    engine.dispose()


def test_0004_downgrades_to_0003_and_keys_made_before_stay_unpinned(database_url: str) -> None:
    store = KeyStore.open(database_url)
    config = database._config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003_sessions")
    assert "workspace" not in {c["name"] for c in inspect(store.engine).get_columns("api_keys")}
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_keys (id, name, scope, lookup, secret_sha256, rate_limit,"
                " rate_period_seconds, created_at) VALUES ('key_old', 'old', 'write', 'x',"
                " 'y', 10, 1, CURRENT_TIMESTAMP)"
            )
        )
    database.migrate(store.engine)
    assert store.get("key_old").workspace is None
    pinned = store.create("pinned", Scope.WRITE, Rate(10, 1), workspace="team-a")
    assert store.get(pinned.info.id).workspace == "team-a"
    store.close()


def test_0002_downgrades_to_0001_and_upgrades_again(database_url: str) -> None:
    store = KeyStore.open(database_url)
    issued = store.create("kept", Scope.READ, Rate(10, 1), default=Level.NO_PERMISSIONS)
    store.grants.create_team("ml")
    config = database._config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert database.current_revision(store.engine) == "0001"
    assert "grants" not in inspect(store.engine).get_table_names()
    database.migrate(store.engine)
    assert store.get(issued.info.id).default_permission is None
    store.close()
