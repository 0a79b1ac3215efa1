"""MLflow goes away and comes back: the gateway answers fast, in JSON, and recovers alone."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from support.processes import free_port, start_gateway, start_mlflow, wait_for_http


def _get(url: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body), time.monotonic() - started


def test_mlflow_outage_and_recovery_without_restarting_the_gateway(tmp_path: Path) -> None:
    port = free_port()
    mlflow, mlflow_url = start_mlflow(tmp_path / "mlflow", port)
    gateway, gateway_url = start_gateway(
        tmp_path / "gateway.log", {"MLFLOW_SERVER_URL": mlflow_url}
    )
    try:
        search = f"{gateway_url}/api/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0"
        assert _get(search)[0] == 200

        mlflow.stop()
        status, report, elapsed = _get(f"{gateway_url}/health")
        assert (status, report["status"]) == (503, "unhealthy") and elapsed < 3
        assert report["error_code"] == "TEMPORARILY_UNAVAILABLE"
        mlflow_health = report["dependencies"]["mlflow"]  # type: ignore[index]
        assert "cannot connect" in mlflow_health["last_error"]
        status, error, elapsed = _get(search)
        assert (status, error["error_code"]) == (502, "BAD_GATEWAY") and elapsed < 3
        assert f"127.0.0.1:{port}" in str(error["message"])
        assert _get(f"{gateway_url}/health/ready")[0] == 503

        mlflow, _ = start_mlflow(tmp_path / "mlflow", port)
        wait_for_http(f"{gateway_url}/health/ready", timeout=10)
        status, report, _ = _get(f"{gateway_url}/health")
        assert (status, report["status"]) == (200, "healthy")
        assert _get(search)[0] == 200
    finally:
        gateway.stop()
        mlflow.stop()
