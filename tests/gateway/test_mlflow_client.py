"""The stock MLflow client, pointed at the gateway, does a data scientist's whole day."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import LifecycleStage
from mlflow.tracking import MlflowClient

ARTIFACT_BYTES = 200 * 1024 * 1024


@pytest.fixture
def client(gateway_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    tracking_uri = f"{gateway_url}/api/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    yield MlflowClient(tracking_uri)
    mlflow.set_tracking_uri("")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _large_file(path: Path) -> Path:
    block = os.urandom(1 << 20)
    with path.open("wb") as stream:
        for index in range(ARTIFACT_BYTES >> 20):
            stream.write(index.to_bytes(8, "big") + block[8:])
    return path


def test_the_mlflow_client_works_end_to_end_through_the_gateway(
    client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = client.create_experiment("gateway-end-to-end")
    run = client.create_run(experiment_id, tags={"team": "registry"})
    run_id = run.info.run_id
    client.log_param(run_id, "learning_rate", "0.01")
    for step in range(3):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    client.set_tag(run_id, "stage", "trained")

    artifact = _large_file(tmp_path / "weights.bin")
    client.log_artifact(run_id, str(artifact), artifact_path="model")
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_artifact(run_id, str(tmp_path / "MLmodel"), artifact_path="model")

    listed = {entry.path: entry.file_size for entry in client.list_artifacts(run_id, "model")}
    assert listed == {"model/weights.bin": ARTIFACT_BYTES, "model/MLmodel": 12}
    downloaded = Path(
        client.download_artifacts(run_id, "model/weights.bin", str(tmp_path / "download"))
    )
    assert _sha256(downloaded) == _sha256(artifact)

    fetched = client.get_run(run_id)
    assert fetched.data.params == {"learning_rate": "0.01"}
    assert fetched.data.metrics["loss"] == pytest.approx(1 / 3)
    assert fetched.data.tags["stage"] == "trained"
    history = client.get_metric_history(run_id, "loss")
    assert [metric.step for metric in history] == [0, 1, 2]
    found = client.search_runs([experiment_id], filter_string="params.learning_rate = '0.01'")
    assert [found_run.info.run_id for found_run in found] == [run_id]

    client.create_registered_model("gateway-model")
    version = client.create_model_version(
        "gateway-model", source=f"{fetched.info.artifact_uri}/model", run_id=run_id
    )
    client.set_registered_model_alias("gateway-model", "champion", version.version)
    by_alias = client.get_model_version_by_alias("gateway-model", "champion")
    assert (by_alias.version, by_alias.run_id) == (version.version, run_id)

    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED


def test_version_through_the_gateway_is_mlflows(gateway_url: str, mlflow_url: str) -> None:
    with urllib.request.urlopen(f"{gateway_url}/api/mlflow/version") as answer:
        assert answer.read().decode() == mlflow.__version__
    with urllib.request.urlopen(f"{gateway_url}/health") as answer:
        report = json.loads(answer.read())
    assert report["status"] == "healthy"
    assert report["dependencies"]["mlflow"]["version"] == mlflow.__version__
    assert report["dependencies"]["mlflow"]["endpoint"] == mlflow_url
