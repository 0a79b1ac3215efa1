"""A cluster (Envoy's word): one upstream's endpoints, which of them take requests, and why.

Discovery (`resolver`, `sources`) says which endpoints exist; `outlier` ejects failing ones
and `health_check` probes them back; `fallback` takes the traffic while nothing discovered is
usable; `load_balancer` hands the usable ones out in turn. The cluster ties them together and
keeps the state `/health` reports.

Priorities, highest first:
1. discovered endpoints (fresh, or stale within the policy's bound) that are not ejected;
2. the pinned fallback (`MLFLOW_FALLBACK_URLS`), announced loudly while in use;
3. with no fallback, every discovered endpoint even if ejected (Envoy's "panic" routing).

`pick`, `report` and `record_request` are on every request's path: they are the load
balancer's, the outlier detection's and the metrics' own methods, one call each, and never
wait. What they read is rebuilt whenever something changes (an answer, an ejection, a
readmission, a fallback transition).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.discovery.fallback import Fallback
from hokusai_platform.discovery.health_check import HealthCheck
from hokusai_platform.discovery.load_balancer import RoundRobin
from hokusai_platform.discovery.outlier import OutlierDetection
from hokusai_platform.discovery.policy import DEFAULT_POLICY, DiscoveryPolicy
from hokusai_platform.discovery.request_metrics import RequestMetrics
from hokusai_platform.discovery.resolver import Resolution, Resolver
from hokusai_platform.discovery.sources import source_for
from hokusai_platform.discovery.target import HttpTarget, UpstreamTarget
from hokusai_platform.http.client import Client

log = logging.getLogger("hokusai.discovery")


class Status(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"  # requests are served, but not the way they should be
    UNHEALTHY = "unhealthy"


class Condition(StrEnum):
    STARTING = "starting"
    OK = "ok"
    STALE = "stale"  # serving the last good answer while discovery fails
    EJECTED = "ejected"  # some discovered endpoints are ejected
    FALLBACK = "fallback"
    NO_ENDPOINT = "no-endpoint"

    @property
    def status(self) -> Status:
        if self is Condition.OK:
            return Status.HEALTHY
        if self in (Condition.STARTING, Condition.NO_ENDPOINT):
            return Status.UNHEALTHY
        return Status.DEGRADED


@dataclass(frozen=True)
class ClusterState:
    condition: Condition
    reason: str | None  # why it is not healthy; None when it is
    since: float  # wall clock of the latest change of condition

    @property
    def status(self) -> Status:
        return self.condition.status


class Cluster:
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
        self.state = ClusterState(Condition.STARTING, None, time.time())
        source = source_for(
            target,
            nameservers=dns_servers,
            cloudmap_ttl=policy.cloudmap_ttl,
            timeout=policy.resolve_timeout,
        )
        self._resolver = Resolver(name, source, policy, self._resolved)
        self._fallback = Fallback(name, fallback, policy)
        self._outlier = OutlierDetection(name, policy, self._ejected)
        self._outlier.track(self._fallback.endpoints)
        self._load_balancer = RoundRobin()
        self._metrics = RequestMetrics(name)
        self._health_path = health_path
        self._health_check: HealthCheck | None = None
        self._removed_listeners: list[Callable[[Endpoint], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        # The request path calls the part that does the job itself: one call each.
        self.pick = self._load_balancer.pick
        self.report = self._outlier.report
        self.record_request = self._metrics.record

    @property
    def target(self) -> str:
        """What discovery resolves: the DNS name, cloudmap:// URL or address."""
        return self._resolver.source.target

    @property
    def fallback_active(self) -> bool:
        return self._fallback.active

    @property
    def reason(self) -> str | None:
        """Why the cluster is not healthy (None when it is), as /health and errors say it."""
        return self.state.reason

    def on_endpoint_removed(self, listener: Callable[[Endpoint], None]) -> None:
        self._removed_listeners.append(listener)

    async def start(self, client: Client) -> None:
        """Resolve once (the only time anything waits on discovery), then refresh and probe."""
        self._health_check = HealthCheck(
            client, path=self._health_path, timeout=self.policy.probe_timeout
        )
        await self._resolver.refresh()
        if self._resolver.source.kind != "static":
            self._tasks.append(asyncio.create_task(self._resolver.run()))
        self._tasks.append(asyncio.create_task(self._probe_loop()))
        self._tasks.append(asyncio.create_task(self._metrics.run()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.flush_metrics()
        self._fallback.close()

    def flush_metrics(self) -> None:
        """Write the requests recorded since the last flush to the shared metrics."""
        self._metrics.flush()

    # State changes.

    def _resolved(self, resolution: Resolution) -> None:
        for endpoint in self._outlier.track((*self._fallback.endpoints, *resolution.endpoints)):
            self._removed(endpoint)
        self._rebuild()

    def _ejected(self, endpoint: Endpoint) -> None:
        self._removed(endpoint)
        self._rebuild()

    def _removed(self, endpoint: Endpoint) -> None:
        for listener in self._removed_listeners:
            listener(endpoint)

    def _rebuild(self) -> None:
        resolution = self._resolver.resolution
        discovered = resolution.endpoints
        healthy = self._outlier.in_rotation(discovered)
        fallback = self._fallback
        if not fallback.active and not healthy and fallback.endpoints:
            fallback.engage(self._why_unusable(resolution))
        if fallback.active:
            usable = self._outlier.in_rotation(fallback.endpoints) or fallback.endpoints
            reason = f"fallback active: {fallback.reason}"
            if healthy and not resolution.stale:
                reason += (
                    f"; discovery answers again, failing back after"
                    f" {self.policy.failback_probes} passed probes"
                )
            condition, why = Condition.FALLBACK, reason
        elif healthy:
            usable = healthy
            if resolution.stale:
                condition, why = Condition.STALE, f"serving stale endpoints: {resolution.error}"
            elif len(healthy) < len(discovered):
                ejected = len(discovered) - len(healthy)
                condition = Condition.EJECTED
                why = f"{ejected} of {len(discovered)} endpoints ejected"
            else:
                condition, why = Condition.OK, None
        else:
            usable = discovered
            condition, why = Condition.NO_ENDPOINT, self._why_unusable(resolution)
        self._load_balancer.update(usable)
        self._enter(condition, why)

    def _why_unusable(self, resolution: Resolution) -> str:
        if resolution.endpoints:
            return f"all {len(resolution.endpoints)} endpoints of {self.target} are ejected"
        return f"no endpoints: {resolution.error or f'{self.target} not resolved yet'}"

    def _enter(self, condition: Condition, reason: str | None) -> None:
        since = self.state.since
        if condition is not self.state.condition:
            since = time.time()
            if self.state.condition is not Condition.STARTING or condition is not Condition.OK:
                log.log(
                    logging.INFO if condition is Condition.OK else logging.WARNING,
                    f"upstream {condition.status}",
                    extra={"upstream": self.name, "reason": reason or "all endpoints healthy"},
                )
        self.state = ClusterState(condition, reason, since)

    def _fail_back(self) -> None:
        self._fallback.release()
        for endpoint in self._fallback.endpoints:
            self._removed(endpoint)

    # Active probes.

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self.policy.probe_interval)
            await self._probe()

    async def _probe(self) -> None:
        """Probe ejected endpoints whose back-off ended and, while on fallback, the discovered."""
        assert self._health_check is not None, "start() first"
        discovered = self._resolver.resolution.endpoints
        due = {
            endpoint.address: endpoint
            for endpoint in (*discovered, *self._fallback.endpoints)
            if self._outlier.probe_due(endpoint)
        }
        if self._fallback.active:
            due.update((endpoint.address, endpoint) for endpoint in discovered)
        if not due:
            return
        results = await self._health_check.check(due.values())
        for endpoint, passed in zip(due.values(), results, strict=True):
            self._outlier.probed(endpoint, passed)
        if self._fallback.active:
            ready = self._fallback.ready_to_fail_back(self._resolver.resolution, self._outlier)
            for endpoint in ready:
                self._outlier.readmit(endpoint)
            if ready:
                self._fail_back()
        self._rebuild()

    # Observability.

    def snapshot(self) -> dict[str, object]:
        """The cluster as /health reports it."""
        resolution = self._resolver.resolution
        now_monotonic, now = time.monotonic(), time.time()
        in_use = set(self._load_balancer.endpoints)

        def describe(endpoint: Endpoint) -> dict[str, object]:
            health = self._outlier.health(endpoint)
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
            "status": self.state.status.value,
            "reason": self.state.reason,
            "since": round(self.state.since, 3),
            "fallback_active": self._fallback.active,
            "endpoints": [describe(e) for e in (*resolution.endpoints, *self._fallback.endpoints)],
            "last_resolution": resolution.resolved_at,
            "last_error": resolution.error,
            "failing_since": resolution.failing_since,
        }
