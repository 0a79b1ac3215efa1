"""Outlier detection (Envoy's word): consecutive failures eject an endpoint, with growing back-off.

An ejected endpoint leaves the rotation until its back-off has passed and an active probe
(`health_check`) passes; a failed probe ejects it again, for longer. What is known of an
endpoint follows its address, whatever source names it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import Counter

from hokusai_platform.discovery.endpoint import Address, Endpoint
from hokusai_platform.discovery.policy import DiscoveryPolicy

log = logging.getLogger("hokusai.discovery")

EJECTIONS = Counter(
    "hokusai_discovery_ejections_total",
    "Endpoints taken out of rotation by outlier detection.",
    ["upstream", "endpoint"],
)


class Outcome(StrEnum):
    SUCCESS = "success"
    CONNECT_FAILURE = "connect_failure"
    SERVER_ERROR = "server_error"  # a 5xx answer
    TIMEOUT = "timeout"


@dataclass
class EndpointHealth:
    endpoint: Endpoint  # as first seen; what `track` returns once its address has left
    consecutive_failures: int = 0
    ejections_in_a_row: int = 0  # the back-off exponent; reset once the endpoint is well again
    ejected_until: float | None = None  # monotonic clock; None while in rotation
    probe_successes: int = 0  # consecutive passed probes (failback hysteresis)
    readmitted_at: float = 0.0

    @property
    def ejected(self) -> bool:
        return self.ejected_until is not None

    def failed(self, policy: DiscoveryPolicy) -> bool:
        """Count a failure; True when it ejects the endpoint now."""
        self.consecutive_failures += 1
        self.probe_successes = 0
        if self.ejected or self.consecutive_failures < policy.eject_after_failures:
            return False
        self.eject(policy)
        return True

    def eject(self, policy: DiscoveryPolicy) -> None:
        backoff = policy.eject_seconds * 2**self.ejections_in_a_row
        self.ejected_until = time.monotonic() + min(backoff, policy.eject_max_seconds)
        self.ejections_in_a_row += 1

    def probe_due(self) -> bool:
        return self.ejected_until is not None and time.monotonic() >= self.ejected_until

    def readmit(self) -> None:
        self.ejected_until = None
        self.consecutive_failures = 0
        self.readmitted_at = time.monotonic()

    def succeeded(self, policy: DiscoveryPolicy) -> None:
        self.consecutive_failures = 0
        # The back-off only resets once the endpoint has stayed well for a while: a flapping
        # endpoint keeps being ejected for longer each time.
        if time.monotonic() - self.readmitted_at > policy.eject_max_seconds:
            self.ejections_in_a_row = 0


class OutlierDetection:
    """The health of one cluster's endpoints, from the requests' outcomes and the probes."""

    def __init__(
        self, cluster: str, policy: DiscoveryPolicy, on_ejected: Callable[[Endpoint], None]
    ) -> None:
        self._cluster = cluster
        self._policy = policy
        self._on_ejected = on_ejected
        self._health: dict[Address, EndpointHealth] = {}
        # Endpoints with failures or a back-off still counting: the only ones a success changes.
        self._recovering: set[Address] = set()

    def track(self, endpoints: Iterable[Endpoint]) -> list[Endpoint]:
        """Follow exactly `endpoints` from now on, each address keeping what is known of it;
        the endpoints no longer followed."""
        followed = {endpoint.address: endpoint for endpoint in endpoints}
        for address, endpoint in followed.items():
            self._health.setdefault(address, EndpointHealth(endpoint))
        dropped = [health.endpoint for a, health in self._health.items() if a not in followed]
        for endpoint in dropped:
            del self._health[endpoint.address]
            self._recovering.discard(endpoint.address)
        return dropped

    def report(self, endpoint: Endpoint, outcome: Outcome) -> None:
        """A request's outcome. On every request's path: a success costs one set lookup."""
        if outcome is Outcome.SUCCESS:
            if endpoint.address in self._recovering:
                self._succeeded(endpoint.address)
            return
        health = self._health.get(endpoint.address)
        if health is None:
            return  # the endpoint left the answer while the request was in flight
        self._recovering.add(endpoint.address)
        if health.failed(self._policy):
            self._ejected(endpoint, health, f"{health.consecutive_failures} {outcome} in a row")

    def in_rotation(self, endpoints: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        return tuple(e for e in endpoints if not self._health[e.address].ejected)

    def health(self, endpoint: Endpoint) -> EndpointHealth:
        return self._health[endpoint.address]

    def probe_due(self, endpoint: Endpoint) -> bool:
        """Ejected, and its back-off has passed."""
        return self._health[endpoint.address].probe_due()

    def probed(self, endpoint: Endpoint, passed: bool) -> None:
        """An active probe's result: an endpoint due a probe is readmitted or ejected again."""
        health = self._health.get(endpoint.address)
        if health is None:
            return  # the endpoint left the answer while the probe was in flight
        if passed:
            health.probe_successes += 1
            if health.probe_due():
                health.readmit()
        else:
            health.probe_successes = 0
            if health.probe_due():
                health.eject(self._policy)
                self._recovering.add(endpoint.address)

    def readmit(self, endpoint: Endpoint) -> None:
        self._health[endpoint.address].readmit()

    def _succeeded(self, address: Address) -> None:
        health = self._health[address]
        health.succeeded(self._policy)
        if not health.ejections_in_a_row:
            self._recovering.discard(address)

    def _ejected(self, endpoint: Endpoint, health: EndpointHealth, why: str) -> None:
        EJECTIONS.labels(self._cluster, endpoint.authority).inc()
        assert health.ejected_until is not None
        log.warning(
            "endpoint ejected",
            extra={
                "upstream": self._cluster,
                "endpoint": endpoint.authority,
                "reason": why,
                "seconds": round(health.ejected_until - time.monotonic(), 1),
            },
        )
        self._on_ejected(endpoint)
