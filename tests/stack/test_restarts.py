"""The supervisor with small real processes: grace period, back-off, crash reports, discovery."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.stack import RecordingRegistry

from hokusai_platform.stack import supervisor as supervisor_module
from hokusai_platform.stack.services import Probe, ServiceSpec, Unhealthy
from hokusai_platform.stack.supervisor import StartFailed, Supervisor, group_members


async def _always_healthy() -> None:
    return None


async def _never_healthy() -> None:
    raise Unhealthy("GET /health: connection refused")


def _spec(
    tmp_path: Path, script: str, probe: Probe = _always_healthy, grace: float = 5
) -> ServiceSpec:
    return ServiceSpec(
        name="worker",
        title="Worker",
        port=9,
        argv=(sys.executable, "-c", script),
        probe=probe,
        grace_seconds=grace,
        log=tmp_path / "logs" / "worker.log",
        home=tmp_path,
    )


def _supervisor(
    spec: ServiceSpec, registry: RecordingRegistry, report: Callable[[str], None]
) -> Supervisor:
    return Supervisor(
        spec, dns_name="worker.test", registry=registry, on_change=lambda: None, report=report
    )


def test_a_process_that_keeps_crashing_is_restarted_with_backoff_and_reported(
    tmp_path: Path,
) -> None:
    registry, reports = RecordingRegistry(), list[str]()
    script = "import time; print('boom: cannot open the database', flush=True); time.sleep(0.3)"
    reported = asyncio.Event()

    def report(text: str) -> None:
        reports.append(text)
        if "3 failures" in text:
            reported.set()

    supervisor = _supervisor(_spec(tmp_path, script), registry, report)

    async def crash_three_times() -> None:
        await supervisor.start()
        async with asyncio.timeout(20):
            await reported.wait()
        await supervisor.stop()

    asyncio.run(crash_three_times())

    delays = [r.split("restarting in ")[1].split(" s")[0] for r in reports if "restarting" in r]
    assert delays[:3] == ["1", "2", "4"]
    assert "boom: cannot open the database" in next(r for r in reports if "3 failures" in r)
    assert registry.calls[:3] == [
        ("register", "worker-9", "127.0.0.1:9"),
        ("unhealthy", "worker-9"),
        ("healthy", "worker-9"),
    ]
    assert registry.calls[-1] == ("deregister", "worker-9")
    assert supervisor.status.health == "stopped" and supervisor.status.restarts >= 2


def test_a_process_never_healthy_in_its_grace_period_fails_the_start(tmp_path: Path) -> None:
    registry, reports = RecordingRegistry(), list[str]()
    script = "import time; print('listening soon', flush=True); time.sleep(60)"
    supervisor = _supervisor(
        _spec(tmp_path, script, _never_healthy, grace=1), registry, reports.append
    )
    with pytest.raises(StartFailed) as failure:
        asyncio.run(supervisor.start())
    message = str(failure.value)
    assert "not healthy after the 1 s grace period (GET /health: connection refused)" in message
    assert "listening soon" in message
    assert registry.calls == []


def test_stop_deregisters_first_and_kills_the_whole_process_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor_module, "STOP_TIMEOUT", 1.0)
    registry, reports = RecordingRegistry(), list[str]()
    # A parent that forks a child ignoring SIGTERM, as servers with workers do.
    script = (
        "import os, signal, time\n"
        "if os.fork() == 0:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "time.sleep(60)\n"
    )
    supervisor = _supervisor(_spec(tmp_path, script), registry, reports.append)

    async def start_then_stop() -> int:
        await supervisor.start()
        group = supervisor.status.pid
        assert group is not None
        for _ in range(100):  # until the parent has forked
            if len(group_members(group)) == 2:
                break
            await asyncio.sleep(0.05)
        await supervisor.stop()
        return group

    assert group_members(asyncio.run(start_then_stop())) == []
    assert registry.calls == [("register", "worker-9", "127.0.0.1:9"), ("deregister", "worker-9")]
