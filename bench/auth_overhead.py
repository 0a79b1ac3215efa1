"""What keys and rate limits cost per request: three gateways in front of one upstream, one run.

Starts, on loopback: a static upstream (nginx `return 200`), Redis, a keys database with one
key, and three gateways (one worker each): without keys (`open`), with keys (`keys`), and with
keys and Redis rate limits (`keys+ratelimit`). Runs wrk with one connection (so p50 is the
latency of one request, not of a queue) on an authenticated MLflow route against each,
interleaved over several rounds, and prints medians and the p50 the boundary adds.

    .venv/bin/python bench/auth_overhead.py [--seconds 5] [--rounds 3] [--connections 1]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from harness import (
    WrkResult,
    free_port,
    median,
    nginx_static,
    require,
    running,
    start_gateway,
    wrk,
)
from processes import start_redis

from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore

ADDED_P50_TARGET_MS = 1.0
ROUTE = "/api/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0"
TARGETS = ("open", "keys", "keys+ratelimit")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=1, help="wrk connections (1)")
    return parser.parse_args()


def _start_everything(stack: ExitStack, root: Path) -> tuple[dict[str, str], str]:
    """Each gateway's URL of the benchmarked route, and the key to send."""
    upstream_port = free_port()
    stack.enter_context(running(nginx_static(root / "upstream", upstream_port).start()))
    redis, redis_url = start_redis(root / "redis")
    stack.enter_context(running(redis))
    database_url = f"sqlite:///{root / 'keys.db'}"
    store = KeyStore.open(database_url)
    key = store.create("bench", Scope.READ, Rate(1_000_000_000, 86400)).secret
    store.close()
    common = {"MLFLOW_SERVER_URL": f"http://127.0.0.1:{upstream_port}", "HOKUSAI_WORKERS": "1"}
    keys = {"HOKUSAI_AUTH": "required", "HOKUSAI_DATABASE_URL": database_url,
            "HOKUSAI_AUDIT_LOG": str(root / "audit.jsonl")}  # fmt: skip
    environments = {
        "open": {**common, "HOKUSAI_AUTH": "off"},
        "keys": {**common, **keys},
        "keys+ratelimit": {**common, **keys, "REDIS_URL": redis_url},
    }
    urls = {}
    for name, env in environments.items():
        port = free_port()
        stack.enter_context(running(start_gateway(root / f"{name}.log", port, env)))
        urls[name] = f"http://127.0.0.1:{port}{ROUTE}"
    return urls, key


def main() -> None:
    args = _arguments()
    require("wrk", "nginx")
    results: dict[str, list[WrkResult]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-") as tmp, ExitStack() as stack:
        urls, key = _start_everything(stack, Path(tmp))
        headers = {"Authorization": f"Bearer {key}"}
        for name in TARGETS:  # warm-up: pools, key cache, Lua script
            wrk(urls[name], connections=args.connections, seconds=1, headers=headers)
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", flush=True)
            for name in TARGETS:
                result = wrk(
                    urls[name], connections=args.connections, seconds=args.seconds, headers=headers
                )
                if result.errors:
                    raise SystemExit(f"{name}: {result.errors} failed requests")
                results[name].append(result)
    p50 = {name: median([r.p50_ms for r in results[name]]) for name in TARGETS}
    print(f"\n{'target':<16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name in TARGETS:
        rate = median([r.requests_per_second for r in results[name]])
        p99 = median([r.p99_ms for r in results[name]])
        print(f"{name:<16}{rate:>10.0f}{p50[name]:>10.3f}{p99:>10.3f}")
    added = p50["keys+ratelimit"] - p50["open"]
    verdict = "ok" if added < ADDED_P50_TARGET_MS else "OVER TARGET"
    print(f"\nkeys alone add {p50['keys'] - p50['open']:.3f} ms at p50")
    target = f"target < {ADDED_P50_TARGET_MS} ms"
    print(f"keys + rate limit add {added:.3f} ms at p50 ({target}): {verdict}")


if __name__ == "__main__":
    main()
