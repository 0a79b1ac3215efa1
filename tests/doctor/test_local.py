"""`hokusai doctor --local` against a real `hokusai up`: green, then MLflow killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from support.processes import executable
from support.stack import Up


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with Up.running(tmp_path_factory.mktemp("doctor-stack") / "data") as up:
        yield up


def doctor_local(stack: Up) -> tuple[int, dict[str, dict[str, str]]]:
    ran = subprocess.run(
        [executable("hokusai"), "doctor", "--local", f"--data-dir={stack.data_dir}", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not ran.stderr, ran.stderr
    found = json.loads(ran.stdout)["results"]
    return ran.returncode, {f"{r['id']} {r['subject']}": r for r in found}


def test_the_local_stack_is_green(stack: Up) -> None:
    code, found = doctor_local(stack)

    assert code == 0, [r for r in found.values() if r["status"] != "ok"]
    gateway = f"http://127.0.0.1:{stack.ports['gateway']}"
    assert found[f"http.health {gateway}/health"]["status"] == "ok"
    assert found["dns.resolve mlflow.hokusai-development.local"]["evidence"] == "127.0.0.1"
    assert found["dns.resolve api.hokusai-development.local"]["status"] == "ok"
    assert found["dns.negative-ttl hokusai-development.local"]["status"] == "ok"
    assert found["dns.matches-cloudmap local"]["status"] == "skipped"


def test_with_mlflow_killed_it_fails_naming_mlflow(stack: Up) -> None:
    os.kill(stack.service("mlflow")["pid"], signal.SIGKILL)
    time.sleep(1.5)  # the gateway caches a health probe for 1 s

    code, found = doctor_local(stack)

    gateway = f"http://127.0.0.1:{stack.ports['gateway']}"
    health = found[f"http.health {gateway}/health"]
    assert code == 2
    assert health["status"] == "fail"
    assert "MLflow cannot be reached" in health["evidence"]
    assert found[f"http.mlflow-version {gateway}/api/mlflow/version"]["status"] == "fail"
