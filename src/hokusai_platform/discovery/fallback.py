"""Priority failover (Envoy's priorities): the pinned fallback, used loudly and given back.

The fallback endpoints (`MLFLOW_FALLBACK_URLS`) take the traffic only while discovery has no
usable endpoint. Failback happens on its own once discovery answers again and a discovered
endpoint has passed `failback_probes` active probes in a row, so a flapping name cannot flap
the traffic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prometheus_client import Gauge

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.discovery.outlier import OutlierDetection
from hokusai_platform.discovery.policy import DiscoveryPolicy
from hokusai_platform.discovery.resolver import Resolution
from hokusai_platform.discovery.target import HttpTarget

log = logging.getLogger("hokusai.discovery")

FALLBACK_ACTIVE = Gauge(
    "hokusai_discovery_fallback_active",
    "1 while the upstream's traffic goes to its pinned fallback endpoints.",
    ["upstream"],
    multiprocess_mode="livemax",
)


class Fallback:
    def __init__(
        self, cluster: str, targets: Sequence[HttpTarget], policy: DiscoveryPolicy
    ) -> None:
        self._cluster = cluster
        self._policy = policy
        # IP addresses (settings checks): a fallback must not depend on the DNS it stands in for.
        self.endpoints = tuple(Endpoint(t.scheme, t.host, t.port, "fallback") for t in targets)
        self.active = False
        self.reason = ""  # why discovery had nothing usable when the fallback took over

    def engage(self, why: str) -> None:
        self.active, self.reason = True, why
        FALLBACK_ACTIVE.labels(self._cluster).set(1)
        log.warning(
            "fallback active",
            extra={
                "upstream": self._cluster,
                "fallback": ",".join(endpoint.authority for endpoint in self.endpoints),
                "reason": why,
            },
        )

    def release(self) -> None:
        self.active, self.reason = False, ""
        FALLBACK_ACTIVE.labels(self._cluster).set(0)
        log.warning("failback to discovered endpoints", extra={"upstream": self._cluster})

    def ready_to_fail_back(
        self, resolution: Resolution, outlier: OutlierDetection
    ) -> tuple[Endpoint, ...]:
        """The discovered endpoints that passed enough probes in a row to take the traffic
        back; none until discovery answers again."""
        if resolution.stale or resolution.error is not None:
            return ()
        return tuple(
            endpoint
            for endpoint in resolution.endpoints
            if outlier.health(endpoint).probe_successes >= self._policy.failback_probes
        )

    def close(self) -> None:
        FALLBACK_ACTIVE.labels(self._cluster).set(0)
