"""The platform in its production shape, on loopback: what ECS runs, with local stand-ins.

- the keys: one PostgreSQL database shared by every replica (RDS's stand-in), the first admin
  key made on it with `hokusai keys create`, as the bootstrap task does;
- MLflow as its image runs it: a PostgreSQL backend store (a second database of the same
  cluster) and artifacts in S3 (moto_server, through `MLFLOW_S3_ENDPOINT_URL`), registered
  in `hokusai discovery serve` (Cloud Map's stand-in) and found by its name;
- two registry API replicas sharing those keys and one Redis, draining for `DRAIN_SECONDS` on
  SIGTERM, behind HAProxy (the ALB's stand-in, tests/replicas.py).
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from support.discovery import start_discovery
from support.hokusai_cli import hokusai
from support.processes import (
    MLFLOW_START_TIMEOUT,
    free_port,
    fresh_postgres_database,
    mlflow_server,
    moto_server,
    start_postgres,
    start_redis,
    wait_for_http,
)
from support.replicas import DRAIN_SECONDS, HAProxy, Replica, behind_haproxy, two_replicas

NAMESPACE = "hokusai-production.local"
BUCKET = "hokusai-artifacts"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Production:
    haproxy: HAProxy
    replicas: list[Replica]
    keys_url: str  # the keys database, as HOKUSAI_DATABASE_URL
    mlflow_store_url: str  # MLflow's backend store
    s3_url: str  # moto_server, as MLFLOW_S3_ENDPOINT_URL
    admin_key: str  # the bootstrap admin key

    @property
    def url(self) -> str:
        """The registry API as its users reach it: through the balancer."""
        return self.haproxy.url


@contextmanager
def production(directory: Path, drain_seconds: float = DRAIN_SECONDS) -> Iterator[Production]:
    """The whole shape, started; every process stopped and its data removed afterwards."""
    with ExitStack() as stack:
        postgres, postgres_url, postgres_data = start_postgres(directory)
        stack.callback(shutil.rmtree, postgres_data, ignore_errors=True)
        stack.callback(postgres.stop, signal.SIGINT)
        keys_url = fresh_postgres_database(postgres_url, "keys")
        mlflow_store_url = fresh_postgres_database(postgres_url, "mlflow")
        admin_key = _bootstrap_admin_key(keys_url)

        redis, redis_url = start_redis(_directory(directory / "redis"))
        stack.callback(redis.stop)
        s3_url = _start_s3(directory / "moto", stack)
        discovery = start_discovery(directory / "discovery.log", NAMESPACE)
        stack.callback(discovery.server.stop)
        mlflow_port = _start_mlflow(directory / "mlflow", stack, mlflow_store_url, s3_url)
        discovery.register("127.0.0.1", mlflow_port)

        replicas = two_replicas(
            _directory(directory / "api"),
            {
                "MLFLOW_SERVER_URL": f"http://mlflow.{NAMESPACE}:{mlflow_port}",
                "HOKUSAI_DNS_SERVERS": f"127.0.0.1:{discovery.dns_port}",
                "HOKUSAI_AUTH": "required",
                "HOKUSAI_DATABASE_URL": keys_url,
                "REDIS_URL": redis_url,
                "HOKUSAI_DRAIN_SECONDS": str(drain_seconds),
            },
        )
        haproxy = stack.enter_context(behind_haproxy(directory, replicas))
        yield Production(haproxy, replicas, keys_url, mlflow_store_url, s3_url, admin_key)


def _bootstrap_admin_key(keys_url: str) -> str:
    """The first admin key, made on the database itself: the one documented bootstrap."""
    created = hokusai(keys_url, "keys", "create", "--name", "operator", "--scope", "admin")
    if created.returncode != 0:
        raise RuntimeError(f"hokusai keys create failed: {created.stderr}")
    return created.stdout.splitlines()[0]


def _start_s3(directory: Path, stack: ExitStack) -> str:
    """moto_server with the artifacts bucket; its URL."""
    port = free_port()
    server = moto_server(_directory(directory) / "moto.log", port).start()
    stack.callback(server.stop)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/moto-api/data.json", timeout=30, process=server.process, log=server.log)
    s3_client(url).create_bucket(Bucket=BUCKET)
    return url


def _start_mlflow(directory: Path, stack: ExitStack, store_url: str, s3_url: str) -> int:
    """MLflow as its image runs it, on loopback; its port once it answers."""
    port = free_port()
    server = mlflow_server(
        _directory(directory),
        port,
        backend_store_uri=store_url,
        artifacts_destination=f"s3://{BUCKET}/artifacts",
        env={"MLFLOW_S3_ENDPOINT_URL": s3_url, **AWS},
    ).start()
    stack.callback(server.stop)
    wait_for_http(
        f"http://127.0.0.1:{port}/health",
        timeout=MLFLOW_START_TIMEOUT,
        process=server.process,
        log=server.log,
    )
    return port


def s3_client(url: str) -> Any:
    """boto3's S3 client for moto_server at `url`."""
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS["AWS_DEFAULT_REGION"],
    )


def _directory(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
