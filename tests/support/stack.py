"""A real `hokusai up` for tests, and discovery as the stack's supervisor sees it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.resolver
import pytest

from hokusai_platform.discovery.local.control import call
from hokusai_platform.stack.supervisor import group_members
from support.processes import MLFLOW_START_TIMEOUT, executable, free_port


@dataclass
class Up:
    """A real `hokusai up` process, on free ports, with its own data dir."""

    data_dir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes]
    output: Path

    @classmethod
    def start(cls, data_dir: Path, ports: dict[str, int] | None = None) -> Up:
        services = ("gateway", "mlflow", "redis", "dns", "discovery")
        ports = ports or {service: free_port() for service in services}
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

    @classmethod
    @contextmanager
    def running(cls, data_dir: Path) -> Iterator[Up]:
        """A started stack, ready for the length of the block, stopped after it."""
        up = cls.start(data_dir)
        try:
            up.wait_ready()
            yield up
        finally:
            up.stop()

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self) -> None:
        """Wait for the `export` lines, printed once every service is healthy."""
        deadline = time.monotonic() + MLFLOW_START_TIMEOUT + 30
        while "export MLFLOW_TRACKING_TOKEN=" not in self.text:
            if self.process.poll() is not None:
                raise AssertionError(f"hokusai up exited {self.process.returncode}:\n{self.text}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"hokusai up not ready:\n{self.text}")
            time.sleep(0.2)

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

    def printed(self, variable: str) -> str:
        """The value of an `export VARIABLE=…` line printed by `up`."""
        prefix = f"export {variable}="
        lines = [line.strip() for line in self.text.splitlines()]
        return next(line.removeprefix(prefix) for line in lines if line.startswith(prefix))

    def resolve(self, service: str) -> list[str]:
        """A records for `<service>.hokusai-development.local` from the stack's discovery DNS."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.ports["dns"]
        answer = resolver.resolve(f"{service}.hokusai-development.local", "A", lifetime=2)
        return sorted(record.address for record in answer)

    def instances(self) -> dict[str, list[dict[str, Any]]]:
        """The discovery registry, through its control API."""
        registry = call(f"http://127.0.0.1:{self.ports['discovery']}", "GET", "/v1/services")
        return {service["name"]: service["instances"] for service in registry["services"]}

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(60)


def assert_nothing_left(up: Up, groups: list[int]) -> None:
    """No process of any service's group survives; discovery no longer answers at all."""
    leftovers = {group: group_members(group) for group in groups if group_members(group)}
    assert leftovers == {}
    assert not (up.data_dir / "stack.json").exists()
    with pytest.raises(dns.exception.Timeout):
        up.resolve("mlflow")


class RecordingRegistry:
    """Discovery as the supervisor sees it, recording each call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def register(self, service: str, instance_id: str, address: str, port: int) -> None:
        self.calls.append(("register", instance_id, f"{address}:{port}"))

    def set_health(self, service: str, instance_id: str, healthy: bool) -> None:
        self.calls.append(("healthy" if healthy else "unhealthy", instance_id))

    def deregister(self, service: str, instance_id: str) -> None:
        self.calls.append(("deregister", instance_id))
