"""Two gateway processes share one limit per key through Redis; without Redis they fail open."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.echo_upstream import EchoUpstream
from support.processes import Server, start_gateway, start_redis
from support.secured import Keys, request, secured_env

from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope

SEARCH = "/api/mlflow/api/2.0/mlflow/experiments/search"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A Redis of this test's own, so the test can kill it."""
    server, url = start_redis(tmp_path / "redis")
    yield server, url
    server.stop()


@pytest.fixture
def two_gateways(
    echo: EchoUpstream, keys: Keys, redis: tuple[Server, str], tmp_path: Path
) -> Iterator[list[str]]:
    env = secured_env(keys, redis[1], MLFLOW_SERVER_URL=echo.url)
    started = [start_gateway(tmp_path / f"gateway-{n}.log", env) for n in range(2)]
    yield [url for _, url in started]
    for server, _ in started:
        server.stop()


def _health(gateway: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{gateway}/health", timeout=5) as answer:
        report: dict[str, object] = json.load(answer)
        return report


def test_a_key_at_10_per_second_driven_at_50_gets_10_across_two_gateways(
    two_gateways: list[str], keys: Keys
) -> None:
    key = keys.store.create("ten-per-second", Scope.READ, Rate(10, 1)).secret
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    passed: list[float] = []
    refused = 0
    for n in range(300):  # 6 s at 50/s, alternating between the gateways
        time.sleep(max(0.0, started + n / 50 - time.monotonic()))
        status, answer_headers, _ = request(two_gateways[n % 2], "GET", SEARCH, headers)
        if status == 200:
            passed.append(time.monotonic() - started)
        else:
            assert status == 429 and int(answer_headers["retry-after"]) >= 1
            refused += 1
    # After the first second (the burst of 10 a full bucket allows), the rate is the limit.
    sustained = [moment for moment in passed if moment >= 1.0]
    assert len(sustained) / (time.monotonic() - started - 1.0) == pytest.approx(10, rel=0.1)
    assert len(passed) + refused == 300


def test_killing_redis_mid_run_keeps_requests_flowing_and_health_degraded(
    two_gateways: list[str], keys: Keys, redis: tuple[Server, str]
) -> None:
    headers = {"Authorization": f"Bearer {keys.read}"}
    assert all(_health(gateway)["status"] == "healthy" for gateway in two_gateways)
    assert request(two_gateways[0], "GET", SEARCH, headers)[0] == 200
    redis[0].stop()
    started = time.monotonic()
    statuses = [request(two_gateways[n % 2], "GET", SEARCH, headers)[0] for n in range(40)]
    assert statuses == [200] * 40
    assert time.monotonic() - started < 5, "a dead Redis must not slow every request"
    for gateway in two_gateways:
        report = _health(gateway)
        assert report["status"] == "degraded"
        redis_health = report["dependencies"]["redis"]  # type: ignore[index]
        assert redis_health["status"] == "unhealthy" and redis_health["last_error"]
    with urllib.request.urlopen(f"{two_gateways[0]}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    assert "hokusai_ratelimit_fail_open_total" in metrics
