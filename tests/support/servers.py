"""The real servers tests share, one of each per session: MLflow, the gateway in front of it,
moto_server, redis-server and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator

import pytest

from support.processes import (
    free_port,
    moto_server,
    start_gateway,
    start_mlflow,
    start_postgres,
    start_redis,
    wait_for_http,
)

# No network here: the MLflow client's telemetry thread fails and, racing a request, removes
# an environment variable that request still reads. Off for every test and every child process.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


@pytest.fixture(scope="session")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real MLflow server shared by the whole session (it takes 11-23 s to start)."""
    server, url = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield url
    server.stop()


@pytest.fixture(scope="session")
def gateway_url(mlflow_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway in front of the shared MLflow server, as its own process."""
    server, url = start_gateway(
        tmp_path_factory.mktemp("gateway") / "gateway.log", {"MLFLOW_SERVER_URL": mlflow_url}
    )
    yield url
    server.stop()


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto_server for the session; tests isolate themselves by resource names/regions."""
    port = free_port()
    server = moto_server(tmp_path_factory.mktemp("moto") / "moto.log", port).start()
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/moto-api/data.json", timeout=30, process=server.process, log=server.log)
    yield url
    server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (and anything started from this process) at moto_server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the session; tests isolate themselves by key names."""
    server, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 15 cluster for the session."""
    server, url, data_dir = start_postgres(tmp_path_factory.mktemp("postgres"))
    yield url
    server.stop(signal.SIGINT)
    shutil.rmtree(data_dir, ignore_errors=True)
