"""The security settings: where keys and limits live, and one-line errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from hokusai_platform.settings import ConfigError, Settings

VALID = {"MLFLOW_SERVER_URL": "http://mlflow.hokusai-development.local:5000"}


def test_secure_defaults() -> None:
    settings = Settings.from_env(VALID)
    assert settings.auth_required
    assert settings.key_cache_seconds <= 1
    assert settings.redis_url is None
    assert settings.metrics_port is None
    assert settings.audit_log == "stderr"
    assert settings.session_idle_seconds <= settings.session_max_seconds <= 24 * 3600


def test_session_lifetimes_from_the_environment() -> None:
    env = {**VALID, "HOKUSAI_SESSION_IDLE_SECONDS": "600", "HOKUSAI_SESSION_MAX_SECONDS": "3600"}
    settings = Settings.from_env(env)
    assert (settings.session_idle_seconds, settings.session_max_seconds) == (600, 3600)


def test_the_keys_database_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({**VALID, "HOKUSAI_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'hokusai.db'}"


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"REDIS_URL": "redis://cache:6380/2"}, "redis://cache:6380/2"),
        ({"REDIS_HOST": "cache.internal"}, "redis://cache.internal:6379/0"),
        ({"REDIS_HOST": "cache.internal", "REDIS_PORT": "6380"}, "redis://cache.internal:6380/0"),
        ({"REDIS_HOST": "cache.internal:6381"}, "redis://cache.internal:6381/0"),
    ],
)
def test_redis_from_a_url_or_a_host_as_terraform_gives_it(env: dict[str, str], url: str) -> None:
    assert Settings.from_env({**VALID, **env}).redis_url == url


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HOKUSAI_DATABASE_URL": "keys.db"}, "HOKUSAI_DATABASE_URL"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL"),
        ({"REDIS_HOST": "cache:port"}, "REDIS_HOST"),
        ({"REDIS_HOST": "cache", "REDIS_PORT": "0"}, "REDIS_PORT"),
        ({"HOKUSAI_AUTH": "maybe"}, "HOKUSAI_AUTH"),
        ({"HOKUSAI_KEY_CACHE_SECONDS": "5"}, "HOKUSAI_KEY_CACHE_SECONDS"),
        ({"HOKUSAI_METRICS_PORT": "99999"}, "HOKUSAI_METRICS_PORT"),
        ({"HOKUSAI_MAX_HEADER_BYTES": "12"}, "HOKUSAI_MAX_HEADER_BYTES"),
        ({"HOKUSAI_MAX_JSON_BODY_BYTES": "lots"}, "HOKUSAI_MAX_JSON_BODY_BYTES"),
        ({"HOKUSAI_CLIENT_TIMEOUT": "0"}, "HOKUSAI_CLIENT_TIMEOUT"),
        ({"HOKUSAI_SESSION_IDLE_SECONDS": "1h"}, "HOKUSAI_SESSION_IDLE_SECONDS"),
        ({"HOKUSAI_SESSION_IDLE_SECONDS": "0"}, "HOKUSAI_SESSION_IDLE_SECONDS"),
        ({"HOKUSAI_SESSION_MAX_SECONDS": "-5"}, "HOKUSAI_SESSION_MAX_SECONDS"),
        (
            {"HOKUSAI_SESSION_IDLE_SECONDS": "7200", "HOKUSAI_SESSION_MAX_SECONDS": "3600"},
            "HOKUSAI_SESSION_IDLE_SECONDS",
        ),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}:"):
        Settings.from_env({**VALID, **env})
