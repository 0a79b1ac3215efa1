"""The MLflow image as ECS runs it: PostgreSQL backend store, artifacts in S3 (moto_server)."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from mlflow.tracking import MlflowClient
from support.buildah import Image, command_name, descendants, uids
from support.processes import MLFLOW_START_TIMEOUT, free_port, wait_for_http

# The first test to use an image waits for its build (minutes on a busy 2-core machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A database of MLflow's own: the keys tests keep their alembic_version in `postgres`."""
    name = f"mlflow_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_serves_runs_in_postgresql_and_artifacts_in_s3_as_non_root(
    mlflow_image: Image, database_url: str, moto_url: str, tmp_path: Path
) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name=AWS["AWS_DEFAULT_REGION"],
        aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    port = free_port()
    # As the Terraform configures the ECS task: options from the environment.
    env = {
        **AWS,
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "MLFLOW_WORKERS": "1",
        "MLFLOW_BACKEND_STORE_URI": database_url,
        "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{bucket}",
        "MLFLOW_S3_ENDPOINT_URL": moto_url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    with mlflow_image.container() as mlflow:
        server = mlflow.start(mlflow_image.config["Cmd"], env, tmp_path / "mlflow.log")
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(
                f"{url}/health",
                timeout=MLFLOW_START_TIMEOUT,
                process=server.process,
                log=server.log,
            )
            main = next(pid for pid in descendants(server.pid) if command_name(pid) == "mlflow")
            assert uids(main) == {mlflow_image.uid} and mlflow_image.uid != 0
            assert mlflow.run(mlflow_image.config["Healthcheck"]["Test"][1:], env).returncode == 0

            client = MlflowClient(tracking_uri=url)
            experiment_id = client.create_experiment("image-smoke")
            run = client.create_run(experiment_id)
            client.log_text(run.info.run_id, "logged through the image", "note.txt")

            with psycopg.connect(database_url) as connection:
                stored = connection.execute(
                    "SELECT name FROM experiments WHERE experiment_id = %s", (int(experiment_id),)
                ).fetchone()
            assert stored == ("image-smoke",)
            (key,) = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
            assert key.endswith(f"{run.info.run_id}/artifacts/note.txt")
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert body == b"logged through the image"

            os.kill(main, signal.SIGTERM)
            assert server.process is not None
            assert server.process.wait(timeout=30) == 0, server.log_tail()
        finally:
            server.stop()
