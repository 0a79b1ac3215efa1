from __future__ import annotations

import subprocess

import pytest
from support.processes import executable

from hokusai_platform.settings import ConfigError, Settings

VALID = {"MLFLOW_SERVER_URL": "http://mlflow.hokusai-development.local:5000"}


def test_defaults_from_a_minimal_environment() -> None:
    settings = Settings.from_env(VALID)
    assert settings.mlflow_url == "http://mlflow.hokusai-development.local:5000"
    assert (settings.host, settings.port) == ("127.0.0.1", 8001)
    assert settings.read_timeout >= 300, "a multi-GB artifact must be able to finish"


def test_port_defaults_from_the_scheme() -> None:
    settings = Settings.from_env({"MLFLOW_SERVER_URL": "https://mlflow.example.internal"})
    assert settings.mlflow_url == "https://mlflow.example.internal:443"


def test_a_cloud_map_service_is_an_mlflow_url() -> None:
    url = "cloudmap://hokusai-production.local/mlflow"
    assert Settings.from_env({"MLFLOW_SERVER_URL": url}).mlflow_url == url


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "MLFLOW_SERVER_URL"),
        ({"MLFLOW_SERVER_URL": "mlflow:5000"}, "MLFLOW_SERVER_URL"),
        ({"MLFLOW_SERVER_URL": "http://"}, "MLFLOW_SERVER_URL"),
        ({"MLFLOW_SERVER_URL": "http://h:99999"}, "MLFLOW_SERVER_URL"),
        ({"MLFLOW_SERVER_URL": "http://user:pw@h:5000"}, "MLFLOW_SERVER_URL"),
        ({"MLFLOW_SERVER_URL": "http://h:5000/prefix"}, "MLFLOW_SERVER_URL"),
        ({"MLFLOW_SERVER_URL": "cloudmap://hokusai.local"}, "MLFLOW_SERVER_URL"),
        ({"MLFLOW_SERVER_URL": "cloudmap://hokusai.local/a/b"}, "MLFLOW_SERVER_URL"),
        ({**VALID, "HOKUSAI_PORT": "eighty"}, "HOKUSAI_PORT"),
        ({**VALID, "HOKUSAI_PORT": "70000"}, "HOKUSAI_PORT"),
        ({**VALID, "HOKUSAI_WORKERS": "0"}, "HOKUSAI_WORKERS"),
        ({**VALID, "HOKUSAI_UPSTREAM_READ_TIMEOUT": "-1"}, "HOKUSAI_UPSTREAM_READ_TIMEOUT"),
        ({**VALID, "HOKUSAI_ACCESS_LOG": "maybe"}, "HOKUSAI_ACCESS_LOG"),
    ],
)
def test_a_bad_value_is_named_in_the_error(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        Settings.from_env(env)


def test_serve_refuses_to_start_with_one_line_naming_the_variable() -> None:
    result = subprocess.run(
        [executable("hokusai"), "serve"],
        env={"PATH": "/usr/bin:/bin", "HOKUSAI_PORT": "not-a-port", **VALID},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hokusai: configuration error: HOKUSAI_PORT: 'not-a-port' is not a whole number"
    ]


def test_serve_names_a_port_that_is_already_taken() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [executable("hokusai"), "serve", "--port", str(port)],
            env={"PATH": "/usr/bin:/bin", **VALID},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
