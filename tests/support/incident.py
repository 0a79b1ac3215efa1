"""The outage, replayed on loopback (for test_incident_replay.py and bench/discovery_failover.py).

Two gateways resolve `mlflow.hokusai-development.local` through `hokusai discovery serve`,
which names two real MLflow servers (127.0.0.2 and 127.0.0.3, one shared backend store) while
steady load runs through both gateways. One gateway has a pinned fallback
(`MLFLOW_FALLBACK_URLS`, the outage's "direct IP" workaround) and gives stale answers up at
once; the other has no fallback and serves stale answers for a few seconds.

Each phase returns what it measured; the test asserts on it, the benchmark prints it.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.discovery import NAME, start_discovery
from support.processes import Server, free_port, start_gateway, start_mlflow

TTL = 1
PROBE_INTERVAL = 0.2
FAILBACK_PROBES = 3
PLAIN_STALE_SECONDS = 3
INSTANCES = {"mlflow-a": "127.0.0.2", "mlflow-b": "127.0.0.3"}
PATHS = ("/api/mlflow/version", "/api/mlflow/health")


def wait_until(condition: Callable[[], bool], within: float, interval: float = 0.02) -> float:
    """Seconds until `condition()` held; AssertionError after `within` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within}s")
        time.sleep(interval)
    return time.monotonic() - started


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        return json.load(exc)


@dataclass
class Load:
    """Steady GETs through one gateway on keep-alive connections; every answer is kept."""

    base_url: str
    threads: int = 2
    results: list[tuple[float, int, bytes]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(10)

    def _run(self) -> None:
        host, port = self.base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        turn = 0
        while not self._stop.is_set():
            turn += 1
            try:
                connection.request("GET", PATHS[turn % len(PATHS)])
                answer = connection.getresponse()
                body = answer.read()
                self.results.append((time.monotonic(), answer.status, body))
            except (OSError, http.client.HTTPException) as exc:
                self.results.append((time.monotonic(), 0, repr(exc).encode()))
                connection.close()
            time.sleep(0.005)

    def failures(self, since: float, until: float = float("inf")) -> list[tuple[float, int, bytes]]:
        return [r for r in self.results if since <= r[0] < until and r[1] != 200]

    def first_success(self, since: float) -> float | None:
        return next((r[0] for r in self.results if r[0] >= since and r[1] == 200), None)

    def count(self, since: float, until: float = float("inf")) -> int:
        return sum(1 for r in self.results if since <= r[0] < until)


class Incident:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.servers: dict[str, Server] = {}
        self.gateways: dict[str, str] = {}
        self.loads: dict[str, Load] = {}

    def start(self) -> None:
        self.dns = start_discovery(self.workdir / "discovery.log")
        self.servers["dns"] = self.dns.server
        # One after the other: both would migrate the shared SQLite store at start-up.
        for instance, host in INSTANCES.items():
            self.servers[instance], _ = start_mlflow(self.workdir / "mlflow", self.port, host)
        for instance in INSTANCES:
            self.register(instance)
        common = {
            "MLFLOW_SERVER_URL": f"http://{NAME}:{self.port}",
            "HOKUSAI_DNS_SERVERS": f"127.0.0.1:{self.dns.dns_port}",
            "HOKUSAI_DISCOVERY_NEGATIVE_TTL": "0.5",
            "HOKUSAI_DISCOVERY_TIMEOUT": "0.5",
            "HOKUSAI_PROBE_INTERVAL": str(PROBE_INTERVAL),
            "HOKUSAI_FAILBACK_PROBES": str(FAILBACK_PROBES),
            "HOKUSAI_EJECT_SECONDS": "2",
            "HOKUSAI_HEALTH_CACHE_SECONDS": "0",
            "HOKUSAI_ACCESS_LOG": "0",
        }
        variants = {
            "fallback": {
                "MLFLOW_FALLBACK_URLS": f"http://{INSTANCES['mlflow-a']}:{self.port}",
                "HOKUSAI_DISCOVERY_STALE_SECONDS": "0",
            },
            "plain": {"HOKUSAI_DISCOVERY_STALE_SECONDS": str(PLAIN_STALE_SECONDS)},
        }
        for name, env in variants.items():
            self.servers[name], self.gateways[name] = start_gateway(
                self.workdir / f"gateway-{name}.log", {**common, **env}
            )
            self.loads[name] = Load(self.gateways[name]).start()

    def close(self) -> None:
        for load in self.loads.values():
            load.stop()
        for server in self.servers.values():
            server.stop()

    # The control API, as the local stack (or ECS) would use it.

    def register(self, instance: str) -> None:
        self.dns.register(INSTANCES[instance], self.port, instance_id=instance, ttl=TTL)

    def deregister(self, instance: str) -> None:
        self.dns.deregister(instance)

    def health(self, gateway: str) -> Any:
        return get_json(f"{self.gateways[gateway]}/health")

    def discovery(self, gateway: str) -> Any:
        return self.health(gateway)["dependencies"]["mlflow"]["discovery"]

    def endpoint(self, gateway: str, instance: str) -> Any:
        address = f"{INSTANCES[instance]}:{self.port}"
        return next(e for e in self.discovery(gateway)["endpoints"] if e["address"] == address)

    # The phases, in the order of the incident.

    def kill_one_instance(self) -> dict[str, Any]:
        """(a) MLflow B dies: it is ejected; every request (all are safe to retry) succeeds."""
        killed = time.monotonic()
        self.servers["mlflow-b"].stop(signal.SIGKILL)
        ejected = {
            gateway: wait_until(lambda g=gateway: not self.endpoint(g, "mlflow-b")["healthy"], 5)
            for gateway in self.gateways
        }
        time.sleep(2)  # steady load goes on around the dead instance
        return {
            "ejected_after": ejected,
            "failed": {g: len(load.failures(killed)) for g, load in self.loads.items()},
            "failures": {g: load.failures(killed)[:3] for g, load in self.loads.items()},
            "requests": {g: load.count(killed) for g, load in self.loads.items()},
        }

    def deregister_all(self) -> dict[str, Any]:
        """(b) The outage: both instances deregistered, the name is NXDOMAIN."""
        started = time.monotonic()
        for instance in INSTANCES:
            self.deregister(instance)
        on_fallback = wait_until(lambda: self.discovery("fallback")["fallback_active"], 5)
        report = self.health("fallback")
        wait_until(lambda: bool(self.loads["plain"].failures(started)), PLAIN_STALE_SECONDS + 5)
        first_error = self.loads["plain"].failures(started)[0]
        time.sleep(0.5)
        discovery = report["dependencies"]["mlflow"]["discovery"]
        return {
            "fallback_after_deregistration": on_fallback,
            "fallback_after_first_failure": discovery["since"] - discovery["failing_since"],
            "fallback_health": report,
            "failed_with_fallback": len(self.loads["fallback"].failures(started)),
            "plain_served_stale_for": first_error[0] - started,
            "plain_error": (first_error[1], json.loads(first_error[2])),
        }

    def reregister_all(self) -> dict[str, Any]:
        """(c) The instances come back: traffic fails back once they pass the probes."""
        started = time.monotonic()
        for instance in INSTANCES:
            self.register(instance)
        failback = wait_until(lambda: not self.discovery("fallback")["fallback_active"], 10)
        wait_until(lambda: self.loads["plain"].first_success(started) is not None, 10)
        plain_back = (self.loads["plain"].first_success(started) or started) - started
        time.sleep(0.5)
        return {
            "failback_after": failback,
            "plain_recovered_after": plain_back,
            "fallback_health": self.health("fallback"),
            "failed_with_fallback": len(self.loads["fallback"].failures(started)),
        }

    def stop_dns(self) -> dict[str, Any]:
        """(d) The discovery DNS server goes away: stale endpoints keep serving."""
        stopped = time.monotonic()
        self.servers["dns"].stop()
        stale_after = wait_until(
            lambda: "serving stale endpoints" in (self.discovery("plain")["reason"] or ""), 5
        )
        report = self.health("plain")
        # The last answer arrived at most one TTL before the stop, so stale answers are
        # served for at least PLAIN_STALE_SECONDS from it.
        window_end = stopped + PLAIN_STALE_SECONDS - 0.3
        time.sleep(max(0.0, window_end - time.monotonic()))
        return {
            "stale_after": stale_after,
            "plain_health": report,
            "failed_while_stale": len(self.loads["plain"].failures(stopped, window_end)),
            "failures": self.loads["plain"].failures(stopped, window_end)[:3],
            "requests_while_stale": self.loads["plain"].count(stopped, window_end),
            "failed_with_fallback": len(self.loads["fallback"].failures(stopped)),
        }
