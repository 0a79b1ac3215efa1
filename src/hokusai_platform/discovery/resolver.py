"""The answer cache of one upstream: expiry carried by the answer, refresh before it, serve-stale.

There is one refresh task per upstream and no timer per entry: the current `Resolution` says
until when it is fresh, and the task sleeps until shortly before then. Requests only ever read
`resolution`; they never wait on DNS.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from prometheus_client import Counter

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.discovery.policy import DiscoveryPolicy
from hokusai_platform.discovery.sources import Answer, EndpointSource, ResolutionFailed

log = logging.getLogger("hokusai.discovery")

RESOLUTIONS = Counter(
    "hokusai_discovery_resolutions_total",
    "Successful resolutions of an upstream's endpoints.",
    ["upstream", "source"],
)
RESOLUTION_FAILURES = Counter(
    "hokusai_discovery_resolution_failures_total",
    "Failed resolutions of an upstream's endpoints, by kind of failure.",
    ["upstream", "kind"],
)

# A fresh answer is refreshed once this share of its TTL has passed, so the next one is in
# place before it expires; never sooner than the floor, whatever TTL the server gives.
REFRESH_AT = 0.9
MIN_REFRESH_SECONDS = 0.5


@dataclass(frozen=True)
class Resolution:
    endpoints: tuple[Endpoint, ...]  # what may be used now: fresh, or relabelled "stale"
    fresh_until: float  # monotonic clock; the answer's own expiry
    stale: bool = False
    error: str | None = None  # the latest failure; None once an answer arrives
    failing_since: float | None = None  # wall clock of the first failure in a row
    resolved_at: float | None = None  # wall clock of the latest answer


class Resolver:
    def __init__(
        self,
        upstream: str,
        source: EndpointSource,
        policy: DiscoveryPolicy,
        on_change: Callable[[Resolution], None],
    ) -> None:
        self.upstream = upstream
        self.source = source
        self.resolution = Resolution((), fresh_until=-math.inf)
        self._policy = policy
        self._on_change = on_change
        self._good: Answer | None = None
        self._refresh_at = 0.0

    async def run(self) -> None:
        """Refresh for ever; each wait ends just before the current answer expires."""
        while True:
            await asyncio.sleep(max(0.0, self._refresh_at - time.monotonic()))
            await self.refresh()

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(self._policy.resolve_timeout * 2):
                answer = await self.source.resolve()
        except TimeoutError:
            self._failed(ResolutionFailed("timeout", f"{self.source.target}: timed out"))
        except ResolutionFailed as exc:
            self._failed(exc)
        else:
            self._answered(answer)

    def _answered(self, answer: Answer) -> None:
        now = time.monotonic()
        RESOLUTIONS.labels(self.upstream, self.source.kind).inc()
        if self.resolution.error is not None:
            log.warning(
                "discovery answers again",
                extra={"upstream": self.upstream, "target": self.source.target},
            )
        self._good = answer
        self._refresh_at = now + max(answer.ttl * REFRESH_AT, MIN_REFRESH_SECONDS)
        self._publish(
            Resolution(answer.endpoints, fresh_until=now + answer.ttl, resolved_at=time.time())
        )

    def _failed(self, exc: ResolutionFailed) -> None:
        now = time.monotonic()
        RESOLUTION_FAILURES.labels(self.upstream, exc.kind).inc()
        previous = self.resolution
        fresh_until = previous.fresh_until
        stale_until = fresh_until + self._policy.stale_seconds
        if now < fresh_until:
            endpoints, stale = previous.endpoints, False  # the answer has not expired yet
            next_boundary = fresh_until
        elif self._good is not None and now < stale_until:
            endpoints = tuple(endpoint.relabelled("stale") for endpoint in self._good.endpoints)
            stale, next_boundary = True, stale_until
        else:
            endpoints, stale, next_boundary = (), False, math.inf
        if previous.error is None:
            log.warning(
                "discovery failed",
                extra={"upstream": self.upstream, "kind": exc.kind, "error": str(exc)},
            )
        self._refresh_at = min(now + self._policy.negative_ttl, next_boundary)
        self._publish(
            replace(
                previous,
                endpoints=endpoints,
                stale=stale,
                error=str(exc),
                failing_since=previous.failing_since or time.time(),
            )
        )

    def _publish(self, resolution: Resolution) -> None:
        self.resolution = resolution
        self._on_change(resolution)
