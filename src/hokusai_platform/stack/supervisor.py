"""Keeps one service's process alive, as ECS keeps a service's task running.

A process is registered in discovery only once its health check passes (within the start-up
grace period); while it is down its instance is marked unhealthy; it is restarted with
exponential back-off; it is deregistered before it is stopped. Each process leads its own
process group, so stopping it also stops whatever it forked (MLflow runs uvicorn as a child).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from hokusai_platform.stack.services import LOOPBACK, ServiceSpec, Unhealthy

Health = Literal["starting", "healthy", "unhealthy", "restarting", "stopped"]

HEALTH_INTERVAL = 5.0  # seconds between health checks of a running process (exits are seen at once)
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
STABLE_AFTER = 60.0  # a process healthy this long has its back-off reset
CRASH_WINDOW, CRASHES_REPORTED = 300.0, 3  # this many crashes within the window are reported
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 20


class Registry(Protocol):
    """What the supervisor needs from service discovery (Cloud Map's instance API)."""

    def register(self, service: str, instance_id: str, address: str, port: int) -> object: ...

    def set_health(self, service: str, instance_id: str, healthy: bool) -> object: ...

    def deregister(self, service: str, instance_id: str) -> object: ...


class StartFailed(Exception):
    pass


@dataclass
class ServiceStatus:
    name: str
    title: str
    address: str
    dns_name: str
    health: Health = "starting"
    pid: int | None = None
    started_at: float | None = None  # wall clock, for uptime shown in another terminal
    restarts: int = 0
    registered: bool = False
    last_error: str | None = None


class Supervisor:
    def __init__(
        self,
        spec: ServiceSpec,
        *,
        dns_name: str,
        registry: Registry,
        on_change: Callable[[], None],
        report: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self.status = ServiceStatus(spec.name, spec.title, spec.address, dns_name)
        self._registry = registry
        self._on_change = on_change
        self._report = report
        self._process: asyncio.subprocess.Process | None = None
        self._exited: asyncio.Task[int] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._crashes: list[float] = []
        self._healthy_since = 0.0

    @property
    def instance_id(self) -> str:
        return f"{self.spec.name}-{self.spec.port}"

    async def start(self, progress: Callable[[float], None] | None = None) -> None:
        """Start the process and wait until healthy, or raise `StartFailed` with its log tail."""
        await self._spawn()
        failure = await self._wait_healthy(progress)
        if failure is not None:
            await self._terminate()
            self._set(health="stopped", last_error=failure)
            raise StartFailed(f"{self.spec.title} did not start: {failure}\n{self.log_tail()}")
        self._keeper = asyncio.create_task(self._keep_alive(), name=f"keep {self.spec.name}")

    async def stop(self) -> None:
        """Deregister first, so no one is sent to a process that is going away; then stop it."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self.status.registered:
            self._registry.deregister(self.spec.name, self.instance_id)
        self._set(registered=False)
        await self._terminate()
        self._set(health="stopped")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.spec.log.read_text(errors="replace")
        except OSError:
            return ""
        tail = text.splitlines()[-lines:]
        return "\n".join(f"    {line}" for line in [f"(last lines of {self.spec.log})", *tail])

    async def _spawn(self) -> None:
        for path, content in self.spec.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        self.spec.log.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log.open("ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            log.write(f"--- hokusai up: starting {self.spec.name} at {stamp} ---\n".encode())
            log.flush()
            self._process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **self.spec.env},
                cwd=self.spec.home,
                start_new_session=True,
            )
        self._exited = asyncio.create_task(self._process.wait())
        self._set(health="starting", pid=self._process.pid, started_at=time.time())

    async def _wait_healthy(self, progress: Callable[[float], None] | None) -> str | None:
        """None once the health check passes; else why it never did within the grace period."""
        assert self._exited is not None
        started = time.monotonic()
        failure = "no health check ran"
        while (elapsed := time.monotonic() - started) < self.spec.grace_seconds:
            if self._exited.done():
                return f"process exited with code {self._exited.result()}"
            if progress is not None:
                progress(elapsed)
            try:
                await self.spec.probe()
            except Unhealthy as exc:
                failure = str(exc)
                await asyncio.wait({self._exited}, timeout=0.25)
                continue
            self._healthy_since = time.monotonic()
            self._mark_healthy()
            return None
        return f"not healthy after the {self.spec.grace_seconds:g} s grace period ({failure})"

    def _mark_healthy(self) -> None:
        if self.status.registered:
            self._registry.set_health(self.spec.name, self.instance_id, True)
        else:
            self._registry.register(self.spec.name, self.instance_id, LOOPBACK, self.spec.port)
        self._set(health="healthy", registered=True, last_error=None)

    def _mark_unhealthy(self, health: Health, reason: str) -> None:
        if self.status.registered:
            self._registry.set_health(self.spec.name, self.instance_id, False)
        self._set(health=health, last_error=reason)

    async def _keep_alive(self) -> None:
        while True:
            failure: str | None = f"exited with code {await self._watch()}"
            while failure is not None:
                self._mark_unhealthy("restarting", failure)
                await self._terminate()  # whatever it forked may outlive it
                await asyncio.sleep(self._record_crash(failure))
                self._set(restarts=self.status.restarts + 1)
                await self._spawn()
                failure = await self._wait_healthy(None)
            self._report(f"{self.spec.title} is healthy again (restart {self.status.restarts})")

    async def _watch(self) -> int:
        """Health-check the running process until it exits; return its exit code."""
        assert self._exited is not None
        while True:
            done, _ = await asyncio.wait({self._exited}, timeout=HEALTH_INTERVAL)
            if done:
                return self._exited.result()
            try:
                await self.spec.probe()
            except Unhealthy as exc:
                if self.status.health == "healthy":
                    self._report(f"{self.spec.title} is failing its health check: {exc}")
                self._mark_unhealthy("unhealthy", str(exc))
            else:
                if self.status.health != "healthy":
                    self._healthy_since = time.monotonic()
                    self._mark_healthy()

    def _record_crash(self, reason: str) -> float:
        """Note a crash, report it (with the log tail when it keeps happening); the back-off."""
        now = time.monotonic()
        if self._healthy_since and now - self._healthy_since >= STABLE_AFTER:
            self._crashes.clear()
        self._healthy_since = 0.0
        self._crashes = [t for t in self._crashes if now - t < CRASH_WINDOW] + [now]
        delay = min(BACKOFF_FIRST * 2.0 ** (len(self._crashes) - 1), BACKOFF_MAX)
        message = f"{self.spec.title} {reason}; restarting in {delay:g} s"
        if len(self._crashes) >= CRASHES_REPORTED:
            message += (
                f" ({len(self._crashes)} failures in {CRASH_WINDOW / 60:g} min)\n{self.log_tail()}"
            )
        self._report(message)
        return delay

    async def _terminate(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `STOP_TIMEOUT`."""
        if self._process is None:
            return
        group = self._process.pid
        _signal_group(group, signal.SIGTERM)
        if not await _group_ended(group, STOP_TIMEOUT):
            _signal_group(group, signal.SIGKILL)
            await _group_ended(group, STOP_TIMEOUT)
        assert self._exited is not None
        await self._exited
        self._process = None
        self._set(pid=None, started_at=None)

    def _set(self, **changes: object) -> None:
        for name, value in changes.items():
            setattr(self.status, name, value)
        self._on_change()


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


async def _group_ended(group: int, seconds: float, poll: float = 0.05) -> bool:
    # Polled: the kernel offers no notification when the last member of a group exits.
    for _ in range(int(seconds / poll)):
        if not group_members(group):
            return True
        await asyncio.sleep(poll)
    return not group_members(group)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of process group `group`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        state, _, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append(int(entry.name))
    return members
