"""A rolling replacement of two gateway replicas behind HAProxy, under steady keep-alive load.

HAProxy stands in for the load balancer as issue 22 measured it: active checks on
/health/ready every 500 ms, a server down after 2 failures and up after 1 success, no retries.
Each replica is a `hokusai serve` on its own loopback port, both sharing one SQLite key
database, in front of the recording upstream. The load is a POST search (MLflow's
`runs/search`, a read): not idempotent, so no client or balancer may quietly send it twice.
Shared by test_rolling_deploy.py and bench/rolling_deploy.py.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore
from support.processes import Server, executable, free_port, gateway_server, wait_for_http

SEARCH_PATH = "/api/mlflow/api/2.0/mlflow/runs/search"
SEARCH_BODY = b'{"experiment_ids": ["0"], "max_results": 1}'
CALLERS = 8

_HAPROXY_CONFIG = """\
global
    stats socket {stats} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 0
frontend registry
    bind 127.0.0.1:{port}
    default_backend gateways
backend gateways
    balance roundrobin
    option httpchk GET /health/ready
    default-server inter 500 fall 2 rise 1
{servers}
"""


class HAProxy:
    """Debian's haproxy in the foreground, with its stats socket to read server states."""

    def __init__(self, directory: Path, backends: dict[str, int]) -> None:
        self.port = free_port()
        self._stats = directory / "haproxy.sock"
        config = directory / "haproxy.cfg"
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check" for name, port in backends.items()
        )
        config.write_text(
            _HAPROXY_CONFIG.format(stats=self._stats, port=self.port, servers=servers)
        )
        self.server = Server(
            argv=[executable("haproxy"), "-db", "-f", str(config)], log=directory / "haproxy.log"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server.start()
        deadline = time.monotonic() + 15
        while not self._stats.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"haproxy did not start:\n{self.server.log_tail()}")
            time.sleep(0.05)

    def status(self, name: str) -> str:
        """The server's state as HAProxy's stats say it: UP, DOWN, or a transition."""
        with socket.socket(socket.AF_UNIX) as stats:
            stats.connect(str(self._stats))
            stats.sendall(b"show stat\n")
            answer = b"".join(iter(lambda: stats.recv(65536), b"")).decode()
        rows = csv.DictReader(answer.removeprefix("# ").splitlines())
        return next(row["status"] for row in rows if row["svname"] == name)

    def wait_until(self, name: str, status: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.status(name)) != status:
            if time.monotonic() > deadline:
                raise TimeoutError(f"haproxy: {name} is {now}, not {status}, after {timeout}s")
            time.sleep(0.05)


@dataclass
class Tally:
    """What the callers saw: answers by outcome ("200", "503", an exception's name)."""

    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    exit_codes: list[int | None] = field(default_factory=list)  # of each replaced replica

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failures(self) -> int:
        return self.requests - self.outcomes["200"]


class SteadyLoad:
    """`CALLERS` callers, each sending one request after another on its keep-alive
    connection, in a thread of their own until stopped."""

    def __init__(self, url: str, key: str) -> None:
        self._url = url + SEARCH_PATH
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.tally = Tally()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=CALLERS)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self._caller(session) for _ in range(CALLERS)))

    async def _caller(self, session: aiohttp.ClientSession) -> None:
        outcomes = self.tally.outcomes
        while not self._stopping.is_set():
            try:
                async with session.post(
                    self._url, data=SEARCH_BODY, headers=self._headers
                ) as answer:
                    await answer.read()
                    outcomes[str(answer.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcomes[type(exc).__name__] += 1


@dataclass
class Replica:
    name: str
    port: int
    directory: Path
    env: dict[str, str]
    server: Server | None = None
    generation: int = 0

    def start(self) -> None:
        self.generation += 1
        log = self.directory / f"{self.name}-{self.generation}.log"
        self.server = gateway_server(log, self.port, self.env).start()
        url = f"http://127.0.0.1:{self.port}"
        wait_for_http(f"{url}/health/ready", timeout=30, process=self.server.process, log=log)

    def stop(self) -> int | None:
        """SIGTERM, as a deploy sends it; the exit code once the process has ended."""
        assert self.server is not None and self.server.process is not None
        self.server.process.send_signal(signal.SIGTERM)
        return self.server.process.wait(timeout=120)


def rolling_replacement(
    directory: Path, upstream_url: str, drain_seconds: float, settle_seconds: float = 1.0
) -> Tally:
    """Two replicas behind HAProxy under steady load; each replaced in turn (SIGTERM, then a
    new one on the same port once the old has exited, back in HAProxy before the next)."""
    keys_url = f"sqlite:///{directory / 'keys.db'}"
    store = KeyStore.open(keys_url)
    key = store.create("rolling-load", Scope.READ, Rate(1_000_000, 60)).secret
    store.close()
    env = {
        "MLFLOW_SERVER_URL": upstream_url,
        "HOKUSAI_AUTH": "required",
        "HOKUSAI_DATABASE_URL": keys_url,
        "HOKUSAI_DRAIN_SECONDS": str(drain_seconds),
    }
    replicas = [Replica(name, free_port(), directory, env) for name in ("a", "b")]
    haproxy = HAProxy(directory, {replica.name: replica.port for replica in replicas})
    try:
        for replica in replicas:
            replica.start()
        haproxy.start()
        for replica in replicas:
            haproxy.wait_until(replica.name, "UP", timeout=10)
        with SteadyLoad(haproxy.url, key) as load:
            time.sleep(settle_seconds)
            for replica in replicas:
                load.tally.exit_codes.append(replica.stop())
                replica.start()
                haproxy.wait_until(replica.name, "UP", timeout=10)
                time.sleep(settle_seconds)
        return load.tally
    finally:
        haproxy.server.stop()
        for replica in replicas:
            if replica.server is not None:
                replica.server.stop(signal.SIGKILL)
