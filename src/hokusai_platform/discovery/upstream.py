"""An upstream (Envoy's cluster): discovered endpoints, their health, and the pinned fallback.

`pick` is on every request's path, so it only reads a tuple that is rebuilt whenever something
changes (an answer, an ejection, a readmission, a fallback transition) and never waits.

Priorities, highest first:
1. discovered endpoints (fresh, or stale within the policy's bound) that are not ejected;
2. the pinned fallback (`MLFLOW_FALLBACK_URLS`), announced loudly while in use;
3. with no fallback, every discovered endpoint even if ejected (Envoy's "panic" routing).

Failback from the fallback happens on its own once discovery answers again and a discovered
endpoint has passed `failback_probes` active probes in a row, so a flapping name cannot flap
the traffic.

Connections follow DNS changes without a per-connection maximum age: `pick` hands out IP
endpoints, so the gateway's pool is keyed by address and a changed answer moves the very next
request. Pooled connections to an endpoint that left the answer, was ejected, or was a fallback
given up are closed through the listeners added with `on_endpoint_removed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Sequence

import aiohttp
from prometheus_client import Counter, Gauge

from hokusai_platform.discovery.endpoint import Address, Endpoint
from hokusai_platform.discovery.outlier import EndpointHealth, Outcome
from hokusai_platform.discovery.policy import DEFAULT_POLICY, DiscoveryPolicy
from hokusai_platform.discovery.request_metrics import FLUSH_SECONDS, RequestMetrics
from hokusai_platform.discovery.resolver import Resolution, Resolver
from hokusai_platform.discovery.sources import source_for
from hokusai_platform.discovery.target import HttpTarget, UpstreamTarget

log = logging.getLogger("hokusai.discovery")

EJECTIONS = Counter(
    "hokusai_discovery_ejections_total",
    "Endpoints taken out of rotation by outlier detection.",
    ["upstream", "endpoint"],
)
FALLBACK_ACTIVE = Gauge(
    "hokusai_discovery_fallback_active",
    "1 while the upstream's traffic goes to its pinned fallback endpoints.",
    ["upstream"],
    multiprocess_mode="livemax",
)


class Upstream:
    def __init__(
        self,
        name: str,
        target: UpstreamTarget,
        *,
        fallback: Sequence[HttpTarget] = (),
        dns_servers: Sequence[tuple[str, int]] = (),
        policy: DiscoveryPolicy = DEFAULT_POLICY,
        health_path: str = "/health",
    ) -> None:
        self.name = name
        self.policy = policy
        self._health_path = health_path
        # IP addresses (settings checks): a fallback must not depend on the DNS it stands in for.
        self._fallback = tuple(Endpoint(t.scheme, t.host, t.port, "fallback") for t in fallback)
        source = source_for(
            target,
            nameservers=dns_servers,
            cloudmap_ttl=policy.cloudmap_ttl,
            timeout=policy.resolve_timeout,
        )
        self._resolver = Resolver(name, source, policy, self._resolved)
        self._health: dict[Address, EndpointHealth] = {
            endpoint.address: EndpointHealth() for endpoint in self._fallback
        }
        self._usable: tuple[Endpoint, ...] = ()
        self._next = 0
        self._fallback_active = False
        self._fallback_reason = ""
        self._condition: tuple[str, str, str | None] = ("unhealthy", "starting", None)
        self._since = time.time()
        self._removed_listeners: list[Callable[[Endpoint], None]] = []
        self._request_metrics = RequestMetrics(name)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def target(self) -> str:
        """What discovery resolves: the DNS name, cloudmap:// URL or address."""
        return self._resolver.source.target

    @property
    def fallback_active(self) -> bool:
        return self._fallback_active

    @property
    def reason(self) -> str | None:
        """Why the upstream is not healthy (None when it is), as /health and errors say it."""
        return self._condition[2]

    def on_endpoint_removed(self, listener: Callable[[Endpoint], None]) -> None:
        self._removed_listeners.append(listener)

    async def start(self, session: aiohttp.ClientSession) -> None:
        """Resolve once (the only time anything waits on discovery), then refresh and probe."""
        self._session = session
        await self._resolver.refresh()
        if self._resolver.source.kind != "static":
            self._tasks.append(asyncio.create_task(self._resolver.run()))
        self._tasks.append(asyncio.create_task(self._probe_loop()))
        self._tasks.append(asyncio.create_task(self._flush_metrics_loop()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.flush_metrics()
        FALLBACK_ACTIVE.labels(self.name).set(0)

    # The hot path: called for every request.

    def pick(self, exclude: Collection[Endpoint] = ()) -> Endpoint | None:
        usable = self._usable
        if exclude:
            usable = tuple(endpoint for endpoint in usable if endpoint not in exclude)
        if not usable:
            return None
        self._next += 1
        return usable[self._next % len(usable)]

    def report(self, endpoint: Endpoint, outcome: Outcome) -> None:
        health = self._health.get(endpoint.address)
        if health is None:
            return  # the endpoint left the answer while the request was in flight
        if outcome is Outcome.SUCCESS:
            if health.consecutive_failures or health.ejections_in_a_row:
                health.succeeded(self.policy)
            return
        if health.failed(self.policy):
            self._ejected(endpoint, health, f"{health.consecutive_failures} {outcome} in a row")

    def record_request(self, endpoint: Endpoint | None, status: int, seconds: float) -> None:
        """Metrics for one upstream request; status 0 when no answer arrived."""
        label = endpoint.authority if endpoint is not None else "none"
        self._request_metrics.record(label, status, seconds)

    def flush_metrics(self) -> None:
        """Write the requests recorded since the last flush to the shared metrics."""
        self._request_metrics.flush()

    # State changes.

    def _resolved(self, resolution: Resolution) -> None:
        known = {endpoint.address for endpoint in self._fallback}
        for endpoint in resolution.endpoints:
            known.add(endpoint.address)
            self._health.setdefault(endpoint.address, EndpointHealth())
        for address in [address for address in self._health if address not in known]:
            del self._health[address]
            self._removed(Endpoint(*address, source="dns"))
        self._rebuild()

    def _ejected(self, endpoint: Endpoint, health: EndpointHealth, why: str) -> None:
        EJECTIONS.labels(self.name, endpoint.authority).inc()
        assert health.ejected_until is not None
        log.warning(
            "endpoint ejected",
            extra={
                "upstream": self.name,
                "endpoint": endpoint.authority,
                "reason": why,
                "seconds": round(health.ejected_until - time.monotonic(), 1),
            },
        )
        self._removed(endpoint)
        self._rebuild()

    def _removed(self, endpoint: Endpoint) -> None:
        for listener in self._removed_listeners:
            listener(endpoint)

    def _healthy(self, endpoints: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        return tuple(e for e in endpoints if not self._health[e.address].ejected)

    def _rebuild(self) -> None:
        resolution = self._resolver.resolution
        discovered = resolution.endpoints
        healthy = self._healthy(discovered)
        if not self._fallback_active and not healthy and self._fallback:
            self._set_fallback(True, self._why_unusable(resolution))
        if self._fallback_active:
            self._usable = self._healthy(self._fallback) or self._fallback
            reason = f"fallback active: {self._fallback_reason}"
            if healthy and not resolution.stale:
                reason += (
                    f"; discovery answers again, failing back after"
                    f" {self.policy.failback_probes} passed probes"
                )
            self._set_condition("degraded", "fallback", reason)
        elif healthy:
            self._usable = healthy
            if resolution.stale:
                self._set_condition(
                    "degraded", "stale", f"serving stale endpoints: {resolution.error}"
                )
            elif len(healthy) < len(discovered):
                ejected = len(discovered) - len(healthy)
                self._set_condition(
                    "degraded", "ejected", f"{ejected} of {len(discovered)} endpoints ejected"
                )
            else:
                self._set_condition("healthy", "ok", None)
        else:
            self._usable = discovered
            self._set_condition("unhealthy", "no-endpoint", self._why_unusable(resolution))

    def _why_unusable(self, resolution: Resolution) -> str:
        if resolution.endpoints:
            return f"all {len(resolution.endpoints)} endpoints of {self.target} are ejected"
        return f"no endpoints: {resolution.error or f'{self.target} not resolved yet'}"

    def _set_condition(self, status: str, kind: str, reason: str | None) -> None:
        if (status, kind) != self._condition[:2]:
            self._since = time.time()
            if self._condition[1] != "starting" or status != "healthy":
                log.log(
                    logging.INFO if status == "healthy" else logging.WARNING,
                    f"upstream {status}",
                    extra={"upstream": self.name, "reason": reason or "all endpoints healthy"},
                )
        self._condition = (status, kind, reason)

    def _set_fallback(self, active: bool, why: str) -> None:
        self._fallback_active = active
        self._fallback_reason = why
        FALLBACK_ACTIVE.labels(self.name).set(1 if active else 0)
        endpoints = ",".join(endpoint.authority for endpoint in self._fallback)
        if active:
            log.warning(
                "fallback active",
                extra={"upstream": self.name, "fallback": endpoints, "reason": why},
            )
        else:
            log.warning("failback to discovered endpoints", extra={"upstream": self.name})
            for endpoint in self._fallback:
                self._removed(endpoint)

    # Active probes.

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self.policy.probe_interval)
            await self.probe_now()

    async def _flush_metrics_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush_metrics()

    async def probe_now(self) -> None:
        """Probe ejected endpoints whose back-off ended and, while on fallback, the discovered."""
        discovered = self._resolver.resolution.endpoints
        due = {
            endpoint.address: endpoint
            for endpoint in (*discovered, *self._fallback)
            if self._health[endpoint.address].probe_due()
            or (self._fallback_active and endpoint in discovered)
        }  # one probe per address, even when a fallback is also discovered
        if not due:
            return
        results = await asyncio.gather(*(self._probe(endpoint) for endpoint in due.values()))
        for endpoint, passed in zip(due.values(), results, strict=True):
            health = self._health.get(endpoint.address)
            if health is None:
                continue
            if passed:
                health.probe_successes += 1
                if health.probe_due():
                    health.readmit()
            else:
                health.probe_successes = 0
                if health.probe_due():
                    health.eject(self.policy)
        if self._fallback_active and self._can_fail_back():
            for endpoint in self._resolver.resolution.endpoints:
                health = self._health[endpoint.address]
                if health.probe_successes >= self.policy.failback_probes:
                    health.readmit()
            self._set_fallback(False, "")
        self._rebuild()

    def _can_fail_back(self) -> bool:
        resolution = self._resolver.resolution
        return (
            not resolution.stale
            and resolution.error is None
            and any(
                self._health[endpoint.address].probe_successes >= self.policy.failback_probes
                for endpoint in resolution.endpoints
            )
        )

    async def _probe(self, endpoint: Endpoint) -> bool:
        assert self._session is not None, "start() first"
        timeout = aiohttp.ClientTimeout(total=self.policy.probe_timeout)
        try:
            async with self._session.get(
                endpoint.base_url + self._health_path,
                headers={"Host": endpoint.authority},
                timeout=timeout,
                allow_redirects=False,
            ) as answer:
                await answer.read()
                return answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    # Observability.

    def snapshot(self) -> dict[str, object]:
        resolution = self._resolver.resolution
        now_monotonic, now = time.monotonic(), time.time()
        status, _, reason = self._condition
        in_use = set(self._usable)

        def describe(endpoint: Endpoint) -> dict[str, object]:
            health = self._health[endpoint.address]
            until = health.ejected_until
            return {
                "address": endpoint.authority,
                "source": endpoint.source,
                "healthy": not health.ejected,
                "in_use": endpoint in in_use,
                "ejected_until": None if until is None else round(now + until - now_monotonic, 3),
                "consecutive_failures": health.consecutive_failures,
            }

        return {
            "name": self.name,
            "target": self.target,
            "status": status,
            "reason": reason,
            "since": round(self._since, 3),
            "fallback_active": self._fallback_active,
            "endpoints": [describe(e) for e in (*resolution.endpoints, *self._fallback)],
            "last_resolution": resolution.resolved_at,
            "last_error": resolution.error,
            "failing_since": resolution.failing_since,
        }
