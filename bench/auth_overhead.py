"""What keys, rate limits and browser sessions cost per request: three gateways, one upstream.

Starts, on loopback: a static upstream (nginx `return 200`), Redis, a keys database with one
key and one browser session opened with it, and three gateways (one worker each): without
keys (`open`), with keys (`keys`), and with keys and Redis rate limits (`keys+ratelimit`).
The `keys` gateway is measured twice: with the key as a bearer token (`keys`) and with the
session's cookie instead (`session`). Runs wrk with one connection (so p50 is the latency of
one request, not of a queue) on an authenticated MLflow route against each, interleaved over
several rounds, and prints medians, the p50 the boundary adds, and what a session adds over
a bearer key. On a busy machine latency grows with every microsecond of CPU, so it also
prints the CPU time each request costs the gateway process (and Redis), which load does not
inflate as much.

    .venv/bin/python bench/auth_overhead.py [--seconds 5] [--rounds 3] [--connections 1]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from harness import (
    WrkResult,
    free_port,
    interpreter,
    median,
    nginx_static,
    require,
    running,
    start_gateway,
    total_cpu_seconds,
    wrk,
)
from support.processes import start_redis

from hokusai_platform.gateway.sessions import COOKIE
from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.sessions import SessionStore
from hokusai_platform.keys.store import KeyStore

ADDED_P50_TARGET_MS = 1.0
SESSION_P50_TARGET_MS = 0.3  # what a session may add over a bearer key
ROUTE = "/api/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0"
TARGETS = ("open", "keys", "keys+ratelimit", "session")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=1, help="wrk connections (1)")
    return parser.parse_args()


@dataclass
class Target:
    url: str
    pids: list[int]  # the processes whose CPU time one request costs
    headers: dict[str, str]  # what identifies the caller


def _start_everything(stack: ExitStack, root: Path) -> dict[str, Target]:
    """Each target's URL of the benchmarked route, its processes and its credentials."""
    upstream_port = free_port()
    stack.enter_context(running(nginx_static(root / "upstream", upstream_port).start()))
    redis, redis_url = start_redis(root / "redis")
    stack.enter_context(running(redis))
    database_url = f"sqlite:///{root / 'keys.db'}"
    store = KeyStore.open(database_url)
    issued = store.create("bench", Scope.READ, Rate(1_000_000_000, 86400))
    session = SessionStore(store.engine).open(
        issued.info.id, issued.secret, idle_seconds=86400, lifetime_seconds=86400
    )
    store.close()
    bearer = {"Authorization": f"Bearer {issued.secret}"}
    common = {"MLFLOW_SERVER_URL": f"http://127.0.0.1:{upstream_port}", "HOKUSAI_WORKERS": "1"}
    keys = {"HOKUSAI_AUTH": "required", "HOKUSAI_DATABASE_URL": database_url,
            "HOKUSAI_AUDIT_LOG": str(root / "audit.jsonl")}  # fmt: skip
    environments = {
        "open": {**common, "HOKUSAI_AUTH": "off"},
        "keys": {**common, **keys},
        "keys+ratelimit": {**common, **keys, "REDIS_URL": redis_url},
    }
    targets = {}
    for name, env in environments.items():
        port = free_port()
        gateway = stack.enter_context(running(start_gateway(root / f"{name}.log", port, env)))
        pids = [gateway.pid, redis.pid] if "REDIS_URL" in env else [gateway.pid]
        targets[name] = Target(f"http://127.0.0.1:{port}{ROUTE}", pids, bearer)
    keys = targets["keys"]
    targets["session"] = Target(keys.url, keys.pids, {"Cookie": f"{COOKIE}={session}"})
    return targets


def main() -> None:
    args = _arguments()
    require("wrk", "nginx")
    print(interpreter(), flush=True)
    results: dict[str, list[WrkResult]] = defaultdict(list)
    cpu_us: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-") as tmp, ExitStack() as stack:
        targets = _start_everything(stack, Path(tmp))
        for target in targets.values():  # warm-up: pools, key cache, Lua script
            wrk(target.url, connections=args.connections, seconds=1, headers=target.headers)
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", flush=True)
            for name, target in targets.items():
                cpu_before = total_cpu_seconds(target.pids)
                result = wrk(
                    target.url,
                    connections=args.connections,
                    seconds=args.seconds,
                    headers=target.headers,
                )
                used = total_cpu_seconds(target.pids) - cpu_before
                if result.errors:
                    raise SystemExit(f"{name}: {result.errors} failed requests")
                results[name].append(result)
                cpu_us[name].append(used / (result.requests_per_second * args.seconds) * 1e6)
    p50 = {name: median([r.p50_ms for r in results[name]]) for name in TARGETS}
    cpu = {name: median(cpu_us[name]) for name in TARGETS}
    print(f"\n{'target':<16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU us/req':>12}")
    for name in TARGETS:
        rate = median([r.requests_per_second for r in results[name]])
        p99 = median([r.p99_ms for r in results[name]])
        print(f"{name:<16}{rate:>10.0f}{p50[name]:>10.3f}{p99:>10.3f}{cpu[name]:>12.0f}")
    added = p50["keys+ratelimit"] - p50["open"]
    verdict = "ok" if added < ADDED_P50_TARGET_MS else "OVER TARGET"
    print(
        f"\nkeys alone add {p50['keys'] - p50['open']:.3f} ms at p50, "
        f"{cpu['keys'] - cpu['open']:.0f} us CPU"
    )
    print(f"keys + rate limit add {cpu['keys+ratelimit'] - cpu['open']:.0f} us CPU (with Redis)")
    goal = f"target < {ADDED_P50_TARGET_MS} ms"
    print(f"keys + rate limit add {added:.3f} ms at p50 ({goal}): {verdict}")
    session_added = p50["session"] - p50["keys"]
    session_verdict = "ok" if session_added <= SESSION_P50_TARGET_MS else "OVER TARGET"
    print(
        f"a session instead of a bearer key adds {session_added:.3f} ms at p50 "
        f"(target <= {SESSION_P50_TARGET_MS} ms), {cpu['session'] - cpu['keys']:.0f} us CPU: "
        f"{session_verdict}"
    )


if __name__ == "__main__":
    main()
