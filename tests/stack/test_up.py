"""`hokusai up` brings the platform to healthy; data survives `down` and `up`; no orphans."""

from __future__ import annotations

import http.client
import json
import re
import signal
import stat
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import mlflow
import pytest
from support.hokusai_cli import hokusai
from support.processes import MLFLOW_START_TIMEOUT, executable
from support.stack import Up, assert_nothing_left

from hokusai_platform.stack.supervisor import group_members


def _log_run(client: mlflow.MlflowClient) -> str:
    experiment_id = client.create_experiment("stack-survives-restarts")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.25)
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def _groups(up: Up) -> list[int]:
    return [service["pid"] for service in up.state()["services"]]


def test_up_serves_mlflow_through_the_gateway_and_keeps_data_across_restarts(
    start_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first: Up = start_up()
    first.wait_ready()
    gateway = f"http://127.0.0.1:{first.ports['gateway']}"
    assert first.printed("MLFLOW_TRACKING_URI") == f"{gateway}/api/mlflow"
    token = first.printed("MLFLOW_TRACKING_TOKEN")
    key_file = first.data_dir / "local-api-key"
    assert key_file.read_text().strip() == token
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    services = {s["name"]: s for s in first.state()["services"]}
    assert {name: s["health"] for name, s in services.items()} == {
        "mlflow": "healthy",
        "redis": "healthy",
        "api": "healthy",
    }
    assert all(s["registered"] for s in services.values())
    assert first.resolve("mlflow") == ["127.0.0.1"]
    with urllib.request.urlopen(f"{gateway}/health") as answer:
        assert json.load(answer)["dependencies"]["mlflow"]["status"] == "healthy"
    assert re.search(
        rf"MLflow UI +{re.escape(gateway)}/api/mlflow/ \(log in with your key\)\n", first.text
    )
    _log_in_with_a_link(first, gateway)
    # What the printed `export` lines do for a shell: the MLflow client reads both variables.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    run_id = _log_run(mlflow.MlflowClient(tracking_uri=f"{gateway}/api/mlflow"))

    groups = _groups(first)
    down = subprocess.run(
        [executable("hokusai"), "down", "--data-dir", str(first.data_dir)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert down.returncode == 0, down.stderr
    assert first.process.wait(5) == 0
    assert_nothing_left(first, groups)

    second: Up = start_up(first.data_dir, first.ports)
    second.wait_ready()
    assert second.printed("MLFLOW_TRACKING_TOKEN") == token
    run = mlflow.MlflowClient(tracking_uri=f"{gateway}/api/mlflow").get_run(run_id)
    assert run.data.metrics == {"loss": 0.25}

    groups = _groups(second)
    assert second.stop(signal.SIGINT) == 0
    assert_nothing_left(second, groups)
    assert "stopped; data kept in" in second.text


def _log_in_with_a_link(up: Up, gateway: str) -> None:
    """`hokusai login-link` finds the running stack's gateway; its link works once."""
    database = f"sqlite:///{up.data_dir / 'hokusai.db'}"  # the stack's
    made = hokusai(database, "login-link", "--data-dir", str(up.data_dir))
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith(f"{gateway}/login/link?token=")
    assert "usable once, within 60 s" in made.stderr
    statuses = []
    for _ in range(2):
        connection = http.client.HTTPConnection("127.0.0.1", up.ports["gateway"], timeout=10)
        connection.request("GET", link.removeprefix(gateway), headers={"Accept": "text/html"})
        answer = connection.getresponse()
        statuses.append((answer.status, answer.getheader("Location")))
        connection.close()
    assert statuses == [(303, "/api/mlflow/"), (401, None)]


def test_services_left_by_a_killed_up_are_stopped_by_the_next_one(start_up: Any) -> None:
    first: Up = start_up()
    first.wait_ready()
    groups = _groups(first)
    first.process.kill()  # SIGKILL: it cannot stop its services
    first.process.wait(5)
    assert all(group_members(group) for group in groups)

    second: Up = start_up(first.data_dir, first.ports)
    second.wait_ready()
    assert "stopped 3 service(s) left running by an `up` that did not exit cleanly" in second.text
    assert [group_members(group) for group in groups] == [[], [], []]


def test_a_service_that_cannot_start_stops_the_stack_and_says_why(
    start_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOKUSAI_UPSTREAM_CONNECT_TIMEOUT", "soon")  # the gateway refuses it
    up: Up = start_up()
    assert up.process.wait(MLFLOW_START_TIMEOUT + 30) == 1
    assert "registry API did not start: process exited with code 2" in up.text
    assert "HOKUSAI_UPSTREAM_CONNECT_TIMEOUT: 'soon' is not a number" in up.text  # its log tail
    assert _processes_mentioning(str(up.data_dir)) == []
    assert not (up.data_dir / "stack.json").exists()


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for process in Path("/proc").iterdir():
        try:
            command = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if process.name.isdigit() and text in command:
            found.append(f"{process.name}: {command}")
    return found
