"""The monitoring module's metric filters against the lines a real gateway writes.

One gateway resolves MLflow through `hokusai discovery serve` and lives through what the
alarms watch for: an endpoint that refuses connections (ejected), Redis unreachable (rate
limits fail open), the name deregistered (the outage: traffic on the pinned fallback) and
registered again (failback). Each filter must match exactly the lines of its signal.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.discovery import NAME, start_discovery
from support.echo_upstream import echo_upstream
from support.filter_pattern import JsonFilterPattern
from support.log_signals import LogSignal, log_signals
from support.processes import Server, free_port, start_gateway

pytestmark = pytest.mark.slow

REFUSING = "127.0.0.9"  # nothing listens there
SIGNAL_MESSAGES = {
    "fallback_active": "fallback active",
    "failback": "failback to discovered endpoints",
    "ejection": "endpoint ejected",
    "rate_limit_fail_open": "redis unreachable; rate limits not enforced",
}


def get(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=10).close()
    except urllib.error.HTTPError as answer:
        answer.close()


@pytest.fixture(scope="module")
def gateway_lines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    workdir: Path = tmp_path_factory.mktemp("log-signals")
    discovery = start_discovery(workdir / "discovery.log")
    gateway: Server | None = None
    try:
        with echo_upstream() as mlflow, echo_upstream() as pinned:
            port = int(mlflow.url.rsplit(":", 1)[1])
            discovery.register("127.0.0.1", port, instance_id="mlflow", ttl=1)
            discovery.register(REFUSING, port, instance_id="refusing", ttl=1)
            gateway, url = start_gateway(
                workdir / "gateway.log",
                {
                    "MLFLOW_SERVER_URL": f"http://{NAME}:{port}",
                    "MLFLOW_FALLBACK_URLS": pinned.url,
                    "HOKUSAI_DNS_SERVERS": f"127.0.0.1:{discovery.dns_port}",
                    "HOKUSAI_DISCOVERY_STALE_SECONDS": "0",
                    "HOKUSAI_DISCOVERY_NEGATIVE_TTL": "0.5",
                    "HOKUSAI_PROBE_INTERVAL": "0.2",
                    "HOKUSAI_EJECT_AFTER_FAILURES": "1",
                    "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
                    "HOKUSAI_ACCESS_LOG": "0",
                },
            )
            for _ in range(4):  # round robin: the refusing endpoint is met, and ejected
                get(f"{url}/api/mlflow/version")
            assert gateway.log_lines_with('"endpoint ejected"'), gateway.log_tail()
            get(f"{url}/health")  # asks Redis
            assert gateway.log_lines_with('"redis unreachable'), gateway.log_tail()
            discovery.deregister("mlflow")
            discovery.deregister("refusing")
            assert gateway.log_lines_with('"fallback active"', timeout=10), gateway.log_tail()
            discovery.register("127.0.0.1", port, instance_id="mlflow", ttl=1)
            assert gateway.log_lines_with('"failback', timeout=10), gateway.log_tail()
            yield gateway.log.read_text().splitlines()
    finally:
        if gateway is not None:
            gateway.stop()
        discovery.server.stop()


@pytest.mark.parametrize("signal", log_signals(), ids=lambda signal: signal.name)
def test_each_filter_matches_exactly_the_lines_of_its_signal(
    signal: LogSignal, gateway_lines: list[str]
) -> None:
    pattern = JsonFilterPattern.parse(signal.pattern)

    matched = [line for line in gateway_lines if pattern.matches(line)]

    assert matched, f"{signal.name}: no line of the gateway matches {signal.pattern}"
    assert {json.loads(line)["msg"] for line in matched} == {SIGNAL_MESSAGES[signal.name]}


def test_the_fallback_is_a_state_one_on_entering_and_zero_on_leaving() -> None:
    values = {s.name: (s.metric, s.value) for s in log_signals()}

    assert values["fallback_active"] == ("DiscoveryFallbackActive", "1")
    assert values["failback"] == ("DiscoveryFallbackActive", "0")


def test_lines_that_only_mention_the_fallback_match_no_filter(gateway_lines: list[str]) -> None:
    """`upstream degraded` says "fallback active: ..." in its reason: counted, it would double."""
    mentions = [
        line
        for line in gateway_lines
        if "fallback active" in line and json.loads(line)["msg"] != "fallback active"
    ]
    patterns = [JsonFilterPattern.parse(s.pattern) for s in log_signals()]

    assert mentions
    assert not [line for line in mentions if any(p.matches(line) for p in patterns)]
