"""Outlier detection for one endpoint: consecutive failures eject it, with growing back-off."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from hokusai_platform.discovery.policy import DiscoveryPolicy


class Outcome(StrEnum):
    SUCCESS = "success"
    CONNECT_FAILURE = "connect_failure"
    SERVER_ERROR = "server_error"  # a 5xx answer
    TIMEOUT = "timeout"


@dataclass
class EndpointHealth:
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
