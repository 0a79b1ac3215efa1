"""Per-request upstream metrics, tallied in the worker and written to the shared files in batches.

In multiprocess mode every metric update takes a lock, calls getpid() and writes to a shared
mmap; a request costs three of them, and a gateway at MLflow's pace pays them with cold caches
(BENCHMARKS.md). So a request only appends its latency to a list here, and `flush` turns the
tally into metric updates, one per counter and histogram bucket that moved: once a second,
before this worker renders a scrape, and at shutdown. A scrape may therefore miss another
worker's last second; a worker that is stopped flushes first, so only one killed outright
loses its last second.
"""

from __future__ import annotations

import asyncio
import collections
from bisect import bisect_left
from itertools import repeat

from prometheus_client import Counter, Histogram

from hokusai_platform.discovery.endpoint import Endpoint

REQUESTS = Counter(
    "hokusai_upstream_requests_total",
    "Requests sent upstream, by endpoint and answer status (0: no answer).",
    ["upstream", "endpoint", "status"],
)
LATENCY = Histogram(
    "hokusai_upstream_request_duration_seconds",
    "Time until the upstream's answer head arrived.",
    ["upstream", "endpoint"],
)

FLUSH_SECONDS = 1.0


class RequestMetrics:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        # Latencies by (endpoint's authority, status).
        self._pending: collections.defaultdict[tuple[str, int], list[float]]
        self._pending = collections.defaultdict(list)

    def record(self, endpoint: Endpoint, status: int, seconds: float) -> None:
        """One upstream request to `endpoint`; status 0 when no answer arrived."""
        self._pending[endpoint.authority, status].append(seconds)

    def flush(self) -> None:
        """Write the requests recorded since the last flush to the shared metrics."""
        pending, self._pending = self._pending, collections.defaultdict(list)
        for (endpoint, status), latencies in pending.items():
            REQUESTS.labels(self.upstream, endpoint, str(status)).inc(len(latencies))
            observe_all(LATENCY.labels(self.upstream, endpoint), latencies)

    async def run(self) -> None:
        """Flush once a second, for ever."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()


def observe_all(histogram: Histogram, amounts: list[float]) -> None:
    """`histogram.observe(amount)` for every amount, as one update per bucket and one of the sum.

    prometheus_client has no batch form of `observe`; this updates the same two attributes
    `observe` does (unchanged since its first releases; a test holds it to `observe`'s result).
    """
    # map() over C functions: no Python bytecode runs per amount.
    per_bucket = collections.Counter(map(bisect_left, repeat(histogram._upper_bounds), amounts))
    for bucket, count in per_bucket.items():
        histogram._buckets[bucket].inc(count)
    histogram._sum.inc(sum(amounts))
