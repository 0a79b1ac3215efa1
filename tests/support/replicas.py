"""Gateway replicas behind HAProxy, the load balancer's stand-in, and their rolling replacement.

HAProxy checks each replica as issue 22 measured the ALB's stand-in: /health/ready every
500 ms, a server down after 2 failures and up after 1 success, no retries. Each replica is a
`hokusai serve` on its own loopback port; a replacement sends SIGTERM, as a deploy does, and
starts a new one on the same port once the old has exited. Shared by the rolling-deploy test
(support.rolling) and the production rehearsal (support.rehearsal), and their benchmarks.
"""

from __future__ import annotations

import csv
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from support.processes import Server, executable, free_port, gateway_server, wait_for_http

# A replica's HOKUSAI_DRAIN_SECONDS: longer than HAProxy takes to notice (2 failed checks
# 500 ms apart), with room to spare.
DRAIN_SECONDS = 3

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

    def stats(self, name: str) -> dict[str, str]:
        """One row of HAProxy's `show stat`: a server's, or the "FRONTEND"'s counters."""
        with socket.socket(socket.AF_UNIX) as stats:
            stats.connect(str(self._stats))
            stats.sendall(b"show stat\n")
            answer = b"".join(iter(lambda: stats.recv(65536), b"")).decode()
        rows = csv.DictReader(answer.removeprefix("# ").splitlines())
        return next(row for row in rows if row["svname"] == name)

    def status(self, name: str) -> str:
        """The server's state as HAProxy's stats say it: UP, DOWN, or a transition."""
        return self.stats(name)["status"]

    def wait_until(self, name: str, status: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.status(name)) != status:
            if time.monotonic() > deadline:
                raise TimeoutError(f"haproxy: {name} is {now}, not {status}, after {timeout}s")
            time.sleep(0.05)


@dataclass
class Replica:
    name: str
    port: int
    directory: Path
    env: dict[str, str]
    server: Server | None = None
    generation: int = 0
    sigterms: list[float] = field(default_factory=list)  # when each was sent (monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.generation += 1
        log = self.directory / f"{self.name}-{self.generation}.log"
        self.server = gateway_server(log, self.port, self.env).start()
        wait_for_http(f"{self.url}/health/ready", timeout=30, process=self.server.process, log=log)

    def stop(self) -> int | None:
        """SIGTERM, as a deploy sends it; the exit code once the process has ended."""
        assert self.server is not None and self.server.process is not None
        self.server.process.send_signal(signal.SIGTERM)
        self.sigterms.append(time.monotonic())
        return self.server.process.wait(timeout=120)


def two_replicas(directory: Path, env: dict[str, str]) -> list[Replica]:
    """Replicas "a" and "b" of one configuration, each on a port of its own, not started."""
    return [Replica(name, free_port(), directory, env) for name in ("a", "b")]


@contextmanager
def behind_haproxy(directory: Path, replicas: Sequence[Replica]) -> Iterator[HAProxy]:
    """The replicas started, and HAProxy in front of them once it sees them all UP; every
    process stopped afterwards."""
    haproxy = HAProxy(directory, {replica.name: replica.port for replica in replicas})
    with ExitStack() as stack:
        for replica in replicas:
            stack.callback(_kill, replica)
            replica.start()
        stack.callback(haproxy.server.stop)
        haproxy.start()
        for replica in replicas:
            haproxy.wait_until(replica.name, "UP", timeout=10)
        yield haproxy


def replace_one_by_one(
    haproxy: HAProxy, replicas: Sequence[Replica], settle_seconds: float
) -> list[int | None]:
    """Each replica in turn: SIGTERM, a new one on its port once the old has exited, back UP
    in HAProxy before `settle_seconds` more and the next. The replaced ones' exit codes."""
    exit_codes = []
    for replica in replicas:
        exit_codes.append(replica.stop())
        replica.start()
        haproxy.wait_until(replica.name, "UP", timeout=10)
        time.sleep(settle_seconds)
    return exit_codes


def _kill(replica: Replica) -> None:
    if replica.server is not None:
        replica.server.stop(signal.SIGKILL)
