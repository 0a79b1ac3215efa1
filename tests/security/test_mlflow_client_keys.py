"""The stock MLflow client authenticates with MLFLOW_TRACKING_TOKEN or USERNAME/PASSWORD."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from support.processes import start_gateway
from support.secured import Keys, secured_env


@pytest.fixture(scope="module")
def guarded_mlflow(
    mlflow_url: str, keys: Keys, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("guarded-mlflow") / "gateway.log"
    server, url = start_gateway(log, secured_env(keys, redis_url, MLFLOW_SERVER_URL=mlflow_url))
    yield f"{url}/api/mlflow"
    server.stop()


def _client(tracking_uri: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> MlflowClient:
    for variable in (
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri, registry_uri=tracking_uri)


@pytest.mark.parametrize("how", ["token", "basic"])
def test_a_write_key_logs_registers_and_a_read_key_only_reads(
    guarded_mlflow: str, keys: Keys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    def credentials(key: str) -> dict[str, str]:
        if how == "token":
            return {"MLFLOW_TRACKING_TOKEN": key}
        return {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": key}

    writer = _client(guarded_mlflow, monkeypatch, **credentials(keys.write))
    experiment_id = writer.create_experiment(f"keys-{how}")
    run_id = writer.create_run(experiment_id).info.run_id
    writer.log_param(run_id, "lr", "0.1")
    writer.log_metric(run_id, "loss", 0.5)
    (tmp_path / "model.txt").write_text("weights")
    writer.log_artifact(run_id, str(tmp_path / "model.txt"), artifact_path="model")
    writer.create_registered_model(f"model-{how}")
    writer.create_model_version(f"model-{how}", f"runs:/{run_id}/model", run_id=run_id)
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        writer.delete_registered_model(f"model-{how}")

    reader = _client(guarded_mlflow, monkeypatch, **credentials(keys.read))
    [run] = reader.search_runs([experiment_id])
    assert run.data.metrics == {"loss": 0.5}
    assert reader.get_registered_model(f"model-{how}").name == f"model-{how}"
    downloaded = reader.download_artifacts(run_id, "model/model.txt", str(tmp_path / "out"))
    assert Path(downloaded).read_text() == "weights"
    for attempt in (
        lambda: reader.create_experiment(f"not-allowed-{how}"),
        lambda: reader.log_metric(run_id, "loss", 0.1),
        lambda: reader.set_tag(run_id, "stage", "x"),
        lambda: reader.delete_run(run_id),
        lambda: reader.log_artifact(run_id, str(tmp_path / "model.txt")),
    ):
        # Artifact uploads go through `requests` directly and raise its HTTPError.
        with pytest.raises((MlflowException, requests.HTTPError), match="PERMISSION_DENIED"):
            attempt()
    assert reader.get_run(run_id).data.tags.get("stage") is None

    admin = _client(guarded_mlflow, monkeypatch, **credentials(keys.admin))
    admin.delete_registered_model(f"model-{how}")


def test_the_client_without_a_key_is_told_to_authenticate(
    guarded_mlflow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous = _client(guarded_mlflow, monkeypatch)
    with pytest.raises(MlflowException, match="UNAUTHENTICATED"):
        anonymous.search_experiments()
