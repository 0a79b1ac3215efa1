"""Per-key rate limits, shared by every gateway process through Redis.

The algorithm is GCRA (the generic cell rate algorithm): one number per key, the theoretical
arrival time of the next request, updated atomically by a Lua script using Redis's own clock,
so any number of gateway processes share one exact limit. A key limited to N per period may
spend N at once, then one every period/N.

Redis being down must not take the registry down with it: requests pass (fail open), a metric
counts them, `/health` says `degraded`, and a short circuit breaker stops a dead Redis from
adding a timeout to every request.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

from prometheus_client import Counter

from hokusai_platform.keys.rates import Rate
from hokusai_platform.resp import RedisConnection, RedisError, ReplyError

log = logging.getLogger("hokusai.ratelimit")

FAIL_OPEN = Counter(
    "hokusai_ratelimit_fail_open_total",
    "Requests let through unchecked because Redis could not be reached",
)
REJECTED = Counter("hokusai_ratelimit_rejected_total", "Requests answered 429")

# KEYS[1]: the key's theoretical arrival time (µs). ARGV: emission interval, burst tolerance (µs).
# Returns {allowed, µs until allowed, µs until the bucket is full again}.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0, new_tat - now}
"""
_GCRA_SHA1 = hashlib.sha1(_GCRA.encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int = 0

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


RedisState = Literal["ok", "down", "disabled"]


class RateLimiter:
    def __init__(self, redis: RedisConnection | None, *, breaker_seconds: float = 2.0) -> None:
        self._redis = redis
        self._breaker_seconds = breaker_seconds
        self._retry_at = 0.0
        self.last_error: str | None = None

    @property
    def state(self) -> RedisState:
        if self._redis is None:
            return "disabled"
        return "down" if self.last_error is not None else "ok"

    async def check(self, key_id: str, rate: Rate) -> Decision | None:
        """The decision for one request by `key_id`; None when it passes unchecked."""
        if self._redis is None:
            return None
        now = time.monotonic()
        if now < self._retry_at:
            FAIL_OPEN.inc()
            return None
        interval = rate.period_seconds * 1_000_000 // rate.limit
        tolerance = interval * rate.limit  # a full bucket: `limit` requests at once
        try:
            allowed, wait_us, full_in_us = await self._gcra(
                f"hokusai:ratelimit:{key_id}", interval, tolerance
            )
        except RedisError as exc:
            self._trip(now, exc)
            FAIL_OPEN.inc()
            return None
        if self.last_error is not None:
            log.info("redis reachable again; rate limits enforced")
            self.last_error = None
        if not allowed:
            REJECTED.inc()
        return Decision(
            allowed=bool(allowed),
            limit=rate.limit,
            remaining=max(0, (tolerance - full_in_us) // interval) if allowed else 0,
            reset_seconds=math.ceil(full_in_us / 1_000_000),
            retry_after_seconds=math.ceil(wait_us / 1_000_000),
        )

    async def _gcra(self, key: str, interval: int, tolerance: int) -> tuple[int, int, int]:
        assert self._redis is not None
        try:
            reply = await self._redis.call("EVALSHA", _GCRA_SHA1, 1, key, interval, tolerance)
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            # First use, or Redis restarted: load the script once and ask again.
            await self._redis.call("SCRIPT", "LOAD", _GCRA)
            reply = await self._redis.call("EVALSHA", _GCRA_SHA1, 1, key, interval, tolerance)
        if not isinstance(reply, list) or len(reply) != 3:
            raise RedisError(f"unexpected reply to the GCRA script: {reply!r}")
        allowed, wait_us, full_in_us = (int(value) for value in reply)
        return allowed, wait_us, full_in_us

    async def probe(self) -> RedisState:
        """Ask Redis now (unless the breaker is open), so /health is right between requests."""
        now = time.monotonic()
        if self._redis is None or now < self._retry_at:
            return self.state
        try:
            await self._redis.call("PING")
        except RedisError as exc:
            self._trip(now, exc)
        else:
            self.last_error = None
        return self.state

    def _trip(self, now: float, exc: BaseException) -> None:
        # Opening the breaker before the next attempt lets exactly one request probe Redis.
        self._retry_at = now + self._breaker_seconds
        if self.last_error is None:
            log.warning("redis unreachable; rate limits not enforced", extra={"error": str(exc)})
        self.last_error = str(exc)

    async def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def connect(url: str | None, *, timeout: float, breaker_seconds: float = 2.0) -> RateLimiter:
    """A limiter over the Redis at `url`; without one, limits are not enforced."""
    if url is None:
        return RateLimiter(None)
    return RateLimiter(RedisConnection(url, timeout=timeout), breaker_seconds=breaker_seconds)
