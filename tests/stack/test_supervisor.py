"""A running stack: status from another terminal, a second `up`, and a crashed MLflow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from support.processes import executable
from support.stack import Up


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with Up.running(tmp_path_factory.mktemp("stack") / "data") as up:
        yield up


def _hokusai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("hokusai"), *args], capture_output=True, text=True, timeout=120
    )


def _health(gateway_port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/health", timeout=5) as r:
            return r.status, json.load(r)["dependencies"]["mlflow"]["status"]
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)["dependencies"]["mlflow"]["status"]


def test_status_shows_every_service_from_another_terminal(stack: Up) -> None:
    table = _hokusai("status", "--data-dir", str(stack.data_dir))
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.split("\n\n")[1].splitlines()
    assert header.split() == ["SERVICE", "PID", "ADDRESS", "DNS", "NAME", "HEALTH", "UPTIME"]
    assert [row.split()[:4] for row in rows] == [
        [
            "mlflow",
            str(stack.service("mlflow")["pid"]),
            f"127.0.0.1:{stack.ports['mlflow']}",
            "mlflow.hokusai-development.local",
        ],
        [
            "redis",
            str(stack.service("redis")["pid"]),
            f"127.0.0.1:{stack.ports['redis']}",
            "redis.hokusai-development.local",
        ],
        [
            "api",
            str(stack.service("api")["pid"]),
            f"127.0.0.1:{stack.ports['gateway']}",
            "api.hokusai-development.local",
        ],
    ]
    assert f"export MLFLOW_TRACKING_TOKEN={stack.printed('MLFLOW_TRACKING_TOKEN')}" in table.stdout

    state = stack.state()
    assert state["running"] is True and state["pid"] == stack.process.pid
    assert state["ports"] == stack.ports


def test_status_without_a_stack_says_so(tmp_path: os.PathLike[str]) -> None:
    result = _hokusai("status", "--data-dir", str(tmp_path))
    assert result.returncode == 3
    assert "no stack is running" in result.stderr


def test_a_second_up_while_one_runs_exits_non_zero(stack: Up) -> None:
    second = _hokusai("up", "--data-dir", str(stack.data_dir))
    assert second.returncode == 1
    assert f"already running from {stack.data_dir} (pid {stack.process.pid})" in second.stderr
    assert stack.process.poll() is None


def test_killed_mlflow_is_restarted_while_the_gateway_reports_the_gap(stack: Up) -> None:
    mlflow = stack.service("mlflow")
    gateway_pid = stack.service("api")["pid"]
    os.kill(mlflow["pid"], signal.SIGKILL)

    time.sleep(1.5)  # the gateway caches a health probe for 1 s
    assert _health(stack.ports["gateway"]) == (503, "unhealthy")
    restarting = stack.service("mlflow")
    assert restarting["health"] in ("restarting", "starting")
    [instance] = stack.instances()["mlflow"]
    assert instance["healthy"] is False

    deadline = time.monotonic() + 120
    while stack.service("mlflow")["health"] != "healthy":
        assert time.monotonic() < deadline, stack.text
        time.sleep(0.5)
    restarted = stack.service("mlflow")
    assert restarted["pid"] != mlflow["pid"] and restarted["restarts"] == 1
    assert _health(stack.ports["gateway"]) == (200, "healthy")
    assert stack.service("api")["pid"] == gateway_pid
    [instance] = stack.instances()["mlflow"]
    assert (instance["healthy"], instance["port"]) == (True, stack.ports["mlflow"])
    assert "MLflow exited with code -9; restarting in 1 s" in stack.text
