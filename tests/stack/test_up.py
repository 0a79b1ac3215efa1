"""`hokusai up` brings the platform to healthy; data survives `down` and `up`; no orphans."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import mlflow
from conftest import Up, assert_nothing_left
from processes import executable


def _log_run(tracking_uri: str) -> str:
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment_id = client.create_experiment("stack-survives-restarts")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.25)
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def _groups(up: Up) -> list[int]:
    return [service["pid"] for service in up.state()["services"]]


def test_up_serves_mlflow_through_the_gateway_and_keeps_data_across_restarts(
    start_up: Any, tmp_path: Path
) -> None:
    first: Up = start_up()
    tracking_uri = first.wait_ready()
    assert tracking_uri == f"http://127.0.0.1:{first.ports['gateway']}/api/mlflow"
    state = first.state()
    assert {s["name"]: s["health"] for s in state["services"]} == {
        "mlflow": "healthy",
        "redis": "healthy",
        "api": "healthy",
    }
    with urllib.request.urlopen(f"http://127.0.0.1:{first.ports['gateway']}/health") as answer:
        assert json.load(answer)["dependencies"]["mlflow"]["status"] == "healthy"
    run_id = _log_run(tracking_uri)

    groups = _groups(first)
    down = subprocess.run(
        [executable("hokusai"), "down", "--data-dir", str(first.data_dir)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert down.returncode == 0, down.stderr
    assert first.process.wait(5) == 0
    assert_nothing_left(groups, first.data_dir)

    second: Up = start_up(first.data_dir, first.ports)
    second.wait_ready()
    run = mlflow.MlflowClient(tracking_uri=tracking_uri).get_run(run_id)
    assert run.data.metrics == {"loss": 0.25}

    groups = _groups(second)
    assert second.stop(signal.SIGINT) == 0
    assert_nothing_left(groups, second.data_dir)
    assert "stopped; data kept in" in second.text
