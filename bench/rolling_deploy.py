"""Requests lost by a rolling deploy: two replicas behind HAProxy, each replaced in turn.

The scenario of issue 22 (tests/support/rolling.py): HAProxy checks /health/ready every
500 ms, takes a server down after 2 failures, retries nothing; steady keep-alive load (a POST
search from 8 callers); each replica gets SIGTERM and is replaced by a new one on its port.
Run once per drain setting: 0 is the old behaviour (stop accepting at once), the default
(10 s) the new one. Prints, for each, the requests sent and those that failed, by outcome.

    .venv/bin/python bench/rolling_deploy.py [--drain-seconds 0,10] [--settle 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import harness
from support.echo_upstream import echo_upstream
from support.rolling import rolling_replacement

from hokusai_platform.settings import Settings


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--drain-seconds",
        default=f"0,{Settings.drain_seconds:g}",
        help="HOKUSAI_DRAIN_SECONDS values to compare, comma-separated (0 and the default)",
    )
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds of load before and after each step"
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    harness.require("haproxy")
    print(harness.interpreter(), flush=True)
    print(f"{'drain s':>8} {'requests':>9} {'failed':>7}  outcomes")
    for drain in (float(value) for value in args.drain_seconds.split(",")):
        with echo_upstream() as echo, tempfile.TemporaryDirectory(prefix="hokusai-bench-") as d:
            tally = rolling_replacement(Path(d), echo.url, drain, settle_seconds=args.settle)
        outcomes = ", ".join(f"{name} x{count}" for name, count in tally.outcomes.most_common())
        print(f"{drain:8g} {tally.requests:9d} {tally.failures:7d}  {outcomes}", flush=True)
        if tally.exit_codes != [0, 0]:
            print(f"         replaced replicas exited with {tally.exit_codes}")


if __name__ == "__main__":
    main()
