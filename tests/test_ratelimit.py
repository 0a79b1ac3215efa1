"""GCRA in Redis: exact limits shared by every limiter, and failing open when Redis is gone."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from support.processes import free_port, start_redis

from hokusai_platform import ratelimit
from hokusai_platform.keys.rates import MAX_LIMIT, Rate, parse_rate
from hokusai_platform.ratelimit import Decision, RateLimiter


def _fail_open_count() -> float:
    return REGISTRY.get_sample_value("hokusai_ratelimit_fail_open_total") or 0.0


def _key() -> str:
    return "key_" + secrets.token_hex(8)


async def _spend(limiter: RateLimiter, key_id: str, rate: Rate, times: int) -> list[Decision]:
    decisions = []
    for _ in range(times):
        decision = await limiter.check(key_id, rate)
        assert decision is not None
        decisions.append(decision)
    return decisions


@pytest.mark.parametrize(
    ("text", "rate"),
    [("600/min", Rate(600, 60)), ("10/s", Rate(10, 1)), (" 5 / Hour ", Rate(5, 3600)),
     ("100000/day", Rate(100000, 86400))],
)  # fmt: skip
def test_rates_parse(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate
    assert parse_rate(str(rate)) == rate


@pytest.mark.parametrize("text", ["", "10", "ten/s", "10/fortnight", "0/s", "-1/s", "10/s/s"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate like|at least 1"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["1000000001/s", "4294967296/min", "9" * 5000 + "/day"])
def test_a_limit_the_database_cannot_hold_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="at most 1000000000"):
        parse_rate(text)
    assert parse_rate("1000000000/s") == Rate(MAX_LIMIT, 1)


def test_a_key_spends_its_burst_then_waits_one_interval(redis_url: str) -> None:
    async def scenario() -> tuple[list[Decision], Decision]:
        limiter = ratelimit.connect(redis_url, timeout=1)
        key_id, rate = _key(), Rate(5, 1)
        decisions = await _spend(limiter, key_id, rate, 7)
        await asyncio.sleep(0.21)
        later = await limiter.check(key_id, rate)
        await limiter.close()
        assert later is not None
        return decisions, later

    decisions, later = asyncio.run(scenario())
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[5]
    assert refused.headers()["Retry-After"] == "1"
    assert refused.headers()["RateLimit-Limit"] == "5"
    assert refused.headers()["RateLimit-Remaining"] == "0"
    assert "Retry-After" not in decisions[0].headers()
    assert later.allowed, "one interval (200 ms) later, one more request is due"


def test_limiters_in_different_processes_share_one_limit(redis_url: str) -> None:
    async def scenario() -> int:
        limiters = [ratelimit.connect(redis_url, timeout=1) for _ in range(2)]
        key_id, rate = _key(), Rate(10, 60)
        decisions = [await limiters[turn % 2].check(key_id, rate) for turn in range(30)]
        for limiter in limiters:
            await limiter.close()
        return sum(1 for d in decisions if d is not None and d.allowed)

    assert asyncio.run(scenario()) == 10


def test_a_sustained_overload_gets_the_configured_rate(redis_url: str) -> None:
    async def scenario() -> float:
        limiter = ratelimit.connect(redis_url, timeout=1)
        key_id, rate = _key(), Rate(20, 1)
        await _spend(limiter, key_id, rate, 20)  # the burst
        started, allowed = time.monotonic(), 0
        while time.monotonic() - started < 2:
            decision = await limiter.check(key_id, rate)
            allowed += bool(decision and decision.allowed)
            await asyncio.sleep(0.01)
        await limiter.close()
        return allowed / (time.monotonic() - started)

    assert asyncio.run(scenario()) == pytest.approx(20, rel=0.1)


def test_redis_down_fails_open_fast_counts_it_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    limiter = ratelimit.connect(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    rate, key_id = Rate(1, 60), _key()
    before = _fail_open_count()

    async def while_down() -> float:
        assert await limiter.check(key_id, rate) is None
        started = time.perf_counter()
        for _ in range(100):
            assert await limiter.check(key_id, rate) is None
        return (time.perf_counter() - started) / 100

    per_request = asyncio.run(while_down())
    assert per_request < 0.001, "the open breaker answers without touching the network"
    assert limiter.state == "down" and limiter.last_error is not None
    assert _fail_open_count() - before == 101

    server, url = start_redis(tmp_path)
    try:
        limiter = ratelimit.connect(url, timeout=0.2)

        async def recovered() -> Decision | None:
            return await limiter.check(key_id, rate)

        decision = asyncio.run(recovered())
        assert decision is not None and decision.allowed
        assert limiter.state == "ok"
    finally:
        server.stop()


def test_the_breaker_probes_again_and_closes_when_redis_returns(tmp_path: Path) -> None:
    server, url = start_redis(tmp_path)
    rate, key_id = Rate(100, 1), _key()

    async def scenario() -> None:
        limiter = ratelimit.connect(url, timeout=0.2, breaker_seconds=0.3)
        assert (await limiter.check(key_id, rate)) is not None
        server.stop()
        assert await limiter.check(key_id, rate) is None
        assert limiter.state == "down"
        server.start()
        await asyncio.sleep(0.5)
        for _ in range(20):
            if await limiter.check(key_id, rate) is not None:
                break
            await asyncio.sleep(0.1)
        assert limiter.state == "ok"
        await limiter.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_without_redis_configured_limits_are_off() -> None:
    limiter = ratelimit.connect(None, timeout=1)
    assert asyncio.run(limiter.check(_key(), Rate(1, 1))) is None
    assert limiter.state == "disabled"
