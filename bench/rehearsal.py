"""Issue 22's production rehearsal, with its figures: requests, failures, artifact bytes
verified, key propagation times.

The scenario of tests/rehearsal (tests/support/rehearsal.py): two registry API replicas
sharing one PostgreSQL key store and one Redis behind HAProxy (checks on /health/ready every
500 ms, down after 2 failures, no retries); MLflow with a PostgreSQL backend store and
artifacts in S3 (moto_server), found by name through `hokusai discovery serve`; steady load
from the stock MLflow client (runs, metrics, a 64 MiB artifact round trip checked by sha256,
no client retries) while both replicas are replaced one after the other; then a key created
through replica A's admin API is timed until B accepts it, and revoked through B until A
refuses it.

    .venv/bin/python bench/rehearsal.py [--settle 3] [--drain-seconds 3]

(`--drain-seconds 0`, stopping at once on SIGTERM, shows what the drain is for.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from pathlib import Path

import harness
from support.rehearsal import Rehearsal, rehearse
from support.replicas import DRAIN_SECONDS


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds of load before and after each step"
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=DRAIN_SECONDS,
        help="the replicas' HOKUSAI_DRAIN_SECONDS (the test's value by default)",
    )
    return parser.parse_args()


def _report(figures: Rehearsal) -> None:
    load, balancer = figures.load, figures.balancer
    answers = ", ".join(f"{name} x{count}" for name, count in balancer.answers.items() if count)
    print(f"under load for {figures.seconds:.1f} s; replaced replicas exited {figures.exit_codes}")
    print(f"requests (HAProxy)       {balancer.requests:8d}  ({answers})")
    print(f"failed (HAProxy)         {balancer.failures:8d}")
    failed = Counter(failure.split(":", 1)[0] for failure in load.failures)
    by_call = ", ".join(f"{name} x{count}" for name, count in failed.most_common())
    print(f"MLflow client calls      {sum(load.calls.values()):8d}  failed {len(load.failures)}")
    if load.failures:
        print(f"    by call: {by_call}; the first: {load.failures[0][:200]}")
    print(
        f"artifacts verified       {load.artifacts:8d}  "
        f"({load.artifact_bytes_verified / 2**20:.0f} MiB by sha256, {load.mismatches} differ; "
        f"{figures.transfers_at_sigterm} under way at a SIGTERM)"
    )
    propagation = figures.propagation
    print(f"created on A, works on B {propagation.created_on_a_works_on_b * 1000:8.1f} ms")
    print(f"revoked on B, refused by A {propagation.revoked_on_b_refused_by_a * 1000:6.1f} ms")


def main() -> None:
    args = _arguments()
    harness.require("haproxy", "redis-server")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # no network here (see tests/conftest.py)
    print(harness.interpreter(), flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="hokusai-rehearsal-") as directory,
        rehearse(Path(directory), args.settle, args.drain_seconds) as figures,
    ):
        _report(figures)


if __name__ == "__main__":
    main()
