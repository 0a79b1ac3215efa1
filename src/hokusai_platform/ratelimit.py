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

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from hokusai_platform.keys.rates import Rate

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
    def __init__(self, redis: Redis | None, *, breaker_seconds: float = 2.0) -> None:
        self._redis = redis
        self._script = redis.register_script(_GCRA) if redis is not None else None
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
        if self._script is None:
            return None
        now = time.monotonic()
        if now < self._retry_at:
            FAIL_OPEN.inc()
            return None
        interval = rate.period_seconds * 1_000_000 // rate.limit
        tolerance = interval * rate.limit  # a full bucket: `limit` requests at once
        try:
            allowed, wait_us, full_in_us = await self._script(
                keys=[f"hokusai:ratelimit:{key_id}"], args=[interval, tolerance]
            )
        except (RedisError, OSError) as exc:
            self._trip(now, exc)
            FAIL_OPEN.inc()
            return None
        if self.last_error is not None:
            log.info("redis reachable again; rate limits enforced")
            self.last_error = None
        remaining = max(0, (tolerance - int(full_in_us)) // interval)
        if not allowed:
            REJECTED.inc()
        return Decision(
            allowed=bool(allowed),
            limit=rate.limit,
            remaining=int(remaining) if allowed else 0,
            reset_seconds=math.ceil(int(full_in_us) / 1_000_000),
            retry_after_seconds=math.ceil(int(wait_us) / 1_000_000),
        )

    async def probe(self) -> RedisState:
        """Ask Redis now (unless the breaker is open), so /health is right between requests."""
        now = time.monotonic()
        if self._redis is None or now < self._retry_at:
            return self.state
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            self._trip(now, exc)
        else:
            self.last_error = None
        return self.state

    def _trip(self, now: float, exc: BaseException) -> None:
        # Opening the breaker before the next attempt lets exactly one request probe Redis.
        self._retry_at = now + self._breaker_seconds
        if self.last_error is None:
            log.warning("redis unreachable; rate limits not enforced", extra={"error": str(exc)})
        self.last_error = f"{type(exc).__name__}: {exc}"

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def connect(url: str | None, *, timeout: float, breaker_seconds: float = 2.0) -> RateLimiter:
    """A limiter over the Redis at `url`; without one, limits are not enforced."""
    if url is None:
        return RateLimiter(None)
    # No retries: the breaker decides when to try again, and a request must not wait for it.
    redis = Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    return RateLimiter(redis, breaker_seconds=breaker_seconds)
