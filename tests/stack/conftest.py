from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from processes import MLFLOW_START_TIMEOUT, executable, free_port

from hokusai_platform.stack.supervisor import group_members


@dataclass
class Up:
    """A real `hokusai up` process, on free ports, with its own data dir."""

    data_dir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes]
    output: Path

    @classmethod
    def start(cls, data_dir: Path, ports: dict[str, int] | None = None) -> Up:
        ports = ports or {"gateway": free_port(), "mlflow": free_port(), "redis": free_port()}
        output = data_dir.with_name(data_dir.name + f"-up-{time.monotonic_ns()}.out")
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [
                    executable("hokusai"),
                    "up",
                    "--data-dir",
                    str(data_dir),
                    *(f"--{name}-port={port}" for name, port in ports.items()),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(data_dir, ports, process, output)

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self) -> str:
        """Wait for the printed tracking URI (printed once every service is healthy)."""
        deadline = time.monotonic() + MLFLOW_START_TIMEOUT + 30
        while time.monotonic() < deadline:
            for line in self.text.splitlines():
                if line.strip().startswith("export MLFLOW_TRACKING_URI="):
                    return line.split("=", 1)[1]
            if self.process.poll() is not None:
                raise AssertionError(f"hokusai up exited {self.process.returncode}:\n{self.text}")
            time.sleep(0.2)
        raise TimeoutError(f"hokusai up not ready:\n{self.text}")

    def state(self) -> dict[str, Any]:
        result = subprocess.run(
            [executable("hokusai"), "status", "--json", "--data-dir", str(self.data_dir)],
            capture_output=True,
            check=True,
        )
        state: dict[str, Any] = json.loads(result.stdout)
        return state

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.state()["services"] if s["name"] == name)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(60)


def assert_nothing_left(groups: list[int], data_dir: Path) -> None:
    leftovers = {group: group_members(group) for group in groups if group_members(group)}
    assert leftovers == {}
    assert not (data_dir / "stack.json").exists()


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator[Any]:
    """Start `hokusai up` processes; whatever a test leaves running is stopped afterwards."""
    started: list[Up] = []

    def start(data_dir: Path | None = None, ports: dict[str, int] | None = None) -> Up:
        up = Up.start(data_dir or tmp_path / "data", ports)
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()
