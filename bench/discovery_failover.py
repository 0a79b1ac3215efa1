"""Discovery under failure: failover and failback times, failed requests, and the per-request
cost of discovery on the gateway's hot path.

1. Added latency: the work the proxy does per request because of discovery (`pick`, `report`,
   `record_request`), timed call by call once warm, with metrics in
   multiprocess mode as `hokusai serve` runs them; and, per request, the once-a-second work
   of writing the recorded requests to the shared metric files.
2. The incident of tests/support/incident.py, end to end on loopback (two real MLflow
   servers, the discovery DNS server, two gateways under steady load): an instance killed,
   the name deregistered (NXDOMAIN), re-registered, then the DNS server stopped.

    .venv/bin/python bench/discovery_failover.py [--calls 200000] [--skip-incident]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import harness  # noqa: F401  (puts tests/ on sys.path)

# Before any metric exists, as `hokusai serve` does: metric updates then write shared files.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))

import aiohttp
from support.discovery import NAME, discovery_dns
from support.incident import FAILBACK_PROBES, PROBE_INTERVAL, TTL, Incident

from hokusai_platform.discovery.cluster import Cluster
from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.discovery.outlier import Outcome
from hokusai_platform.discovery.target import HttpTarget

ADDED_P50_TARGET_US = 50.0


async def added_latency(calls: int) -> tuple[list[float], float]:
    """Microseconds per request of discovery's hot-path work, one sample per request; and the
    microseconds per request of writing them to the metric files (done once a second)."""
    async with discovery_dns() as dns, aiohttp.ClientSession() as session:
        for host in ("127.0.0.2", "127.0.0.3"):
            dns.registry.register("mlflow", None, host, 5000, ttl=30)
        cluster = Cluster(
            "mlflow", HttpTarget("http", NAME, 5000), dns_servers=[("127.0.0.1", dns.dns_port)]
        )
        await cluster.start(session)
        clock = time.perf_counter_ns
        samples = []
        tried: list[Endpoint] = []
        for _ in range(calls):
            started = clock()
            endpoint = cluster.pick(tried)
            assert endpoint is not None
            cluster.report(endpoint, Outcome.SUCCESS)
            cluster.record_request(endpoint, 200, 0.001)
            samples.append((clock() - started) / 1000)
        started = clock()
        cluster.flush_metrics()
        flush_per_request = (clock() - started) / 1000 / calls
        await cluster.close()
    return samples[calls // 10 :], flush_per_request  # once warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--skip-incident", action="store_true")
    args = parser.parse_args()

    samples, flush_per_request = asyncio.run(added_latency(args.calls))
    p50 = statistics.median(samples)
    p99 = statistics.quantiles(samples, n=100)[98]
    verdict = "ok" if p50 < ADDED_P50_TARGET_US else "OVER TARGET"
    print(
        f"discovery hot path per request: p50 {p50:.2f} µs, p99 {p99:.2f} µs "
        f"(target p50 < {ADDED_P50_TARGET_US:g} µs: {verdict}); "
        f"writing them to the metric files: {flush_per_request:.2f} µs per request"
    )
    if args.skip_incident:
        return

    with tempfile.TemporaryDirectory(prefix="bench-incident-") as workdir:
        incident = Incident(Path(workdir))
        try:
            started = time.monotonic()
            incident.start()
            print(
                f"set-up (discovery DNS, 2 MLflow, 2 gateways): {time.monotonic() - started:.1f} s"
            )
            a = incident.kill_one_instance()
            b = incident.deregister_all()
            c = incident.reregister_all()
            d = incident.stop_dns()
        finally:
            incident.close()
    print(f"TTL {TTL} s, probes every {PROBE_INTERVAL} s, failback after {FAILBACK_PROBES} passed")
    print("(a) MLflow instance killed")
    for gateway, seconds in a["ejected_after"].items():
        print(
            f"    {gateway:>8}: ejected after {seconds * 1000:.0f} ms; "
            f"failed {a['failed'][gateway]} of {a['requests'][gateway]} requests"
        )
        for _, status, body in a["failures"][gateway]:
            print(f"              failed: {status} {body[:300]!r}")
    print("(b) both instances deregistered (NXDOMAIN)")
    print(
        f"    fallback: serving after {b['fallback_after_deregistration']:.2f} s "
        f"({b['fallback_after_first_failure']:.2f} s after the first failed resolution); "
        f"failed requests {b['failed_with_fallback']}"
    )
    status, body = b["plain_error"]
    print(
        f"       plain: stale answers for {b['plain_served_stale_for']:.2f} s, then {status} "
        f"{body['error_code']}: {body['message']}"
    )
    print("(c) instances re-registered")
    print(
        f"    fallback: failback after {c['failback_after']:.2f} s; "
        f"failed requests {c['failed_with_fallback']}"
    )
    print(f"       plain: serving again after {c['plain_recovered_after']:.2f} s")
    print("(d) discovery DNS server stopped")
    print(
        f"       plain: stale reported after {d['stale_after']:.2f} s; failed "
        f"{d['failed_while_stale']} of {d['requests_while_stale']} requests while stale"
    )
    print(f"    fallback: failed requests {d['failed_with_fallback']}")


if __name__ == "__main__":
    main()
