"""How an upstream treats its endpoints: one small immutable object, like httpx's `Limits`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiscoveryPolicy:
    # Serve-stale: after a failed refresh the last good endpoints stay in use this long.
    stale_seconds: float = 60.0
    # A failed resolution is retried after this long (not the SOA minimum, often minutes).
    negative_ttl: float = 2.0
    # Cloud Map's API carries no TTL: how long its answer is used before asking again.
    cloudmap_ttl: float = 10.0
    # One resolution (all retries included) may take this long.
    resolve_timeout: float = 2.0
    # Outlier detection: this many consecutive failures eject an endpoint ...
    eject_after_failures: int = 3
    # ... for this long, doubling with each ejection in a row, up to the maximum.
    eject_seconds: float = 2.0
    eject_max_seconds: float = 60.0
    # Active probes of ejected endpoints (and, while on fallback, of discovered ones).
    probe_interval: float = 1.0
    probe_timeout: float = 1.0
    # Failback hysteresis: discovered endpoints must pass this many probes in a row.
    failback_probes: int = 3


DEFAULT_POLICY = DiscoveryPolicy()
