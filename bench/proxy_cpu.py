"""Proxy cost beside nginx on a static upstream: CPU per request and tail latency (issue 21).

Starts, on loopback, a static upstream (nginx `return 200`) and, in front of it, nginx (a
keep-alive reverse proxy logging every request), the gateway (`hokusai serve`, access log on)
and the two floors of bench/forwarders.py (`bytes`: uvloop passing bytes on; `parsed`:
httptools both ways and a pooled upstream, none of the gateway's behaviour). Then runs wrk
against each at each concurrency, interleaved over several rounds (each in another order),
and prints per concurrency the median CPU time each spent per request (all its processes, from
/proc) and the median p99, each against nginx's, with the two ratios issue 21 sets targets for:
the gateway's CPU per request at 16 connections and its p99 at 512, at most twice nginx's.

Unlike a throughput ratio in front of MLflow, neither figure drifts with MLflow's speed. All
proxies run the same number of worker processes (`--workers`, default the CPU count).

    .venv/bin/python bench/proxy_cpu.py [--seconds 5] [--rounds 3] [--connections 16,128,512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from forwarders import FORWARDERS, start_forwarder
from harness import (
    Run,
    Server,
    free_port,
    interpreter,
    measure,
    median,
    nginx_proxy,
    nginx_static,
    require,
    running,
    start_gateway,
    verdict,
    wrk,
)

CPU_TARGET = 2.0  # gateway CPU per request ÷ nginx's, at CPU_CONNECTIONS
CPU_CONNECTIONS = 16
TAIL_TARGET = 2.0  # gateway p99 ÷ nginx's, at TAIL_CONNECTIONS
TAIL_CONNECTIONS = 512


def _connections(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError("connection counts must be at least 1")
    return counts


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument(
        "--connections",
        type=_connections,
        default=[CPU_CONNECTIONS, 128, TAIL_CONNECTIONS],
        help="comma-separated concurrencies (16,128,512)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes per proxy"
    )
    return parser.parse_args()


def _start(stack: ExitStack, root: Path, workers: int) -> dict[str, tuple[str, Server]]:
    """Each proxy's `/version` URL and its server, by name."""
    upstream = free_port()
    stack.enter_context(running(nginx_static(root / "static", upstream).start()))
    nginx_port, gateway_port = free_port(), free_port()
    nginx = nginx_proxy(root / "nginx", nginx_port, upstream, workers=workers).start()
    proxies = {
        "nginx": (f"http://127.0.0.1:{nginx_port}/version", stack.enter_context(running(nginx)))
    }
    for kind in FORWARDERS:
        url, server = start_forwarder(root, kind, upstream, workers)
        proxies[kind] = (url, stack.enter_context(running(server)))
    env = {
        "MLFLOW_SERVER_URL": f"http://127.0.0.1:{upstream}",
        "HOKUSAI_WORKERS": str(workers),
        "HOKUSAI_ACCESS_LOG": "1",
    }
    gateway = start_gateway(root / "gateway.log", gateway_port, env)
    proxies["gateway"] = (
        f"http://127.0.0.1:{gateway_port}/api/mlflow/version",
        stack.enter_context(running(gateway)),
    )
    return proxies


def main() -> None:
    args = _arguments()
    require("wrk", "nginx")
    print(interpreter(), flush=True)
    runs: dict[tuple[str, int], list[Run]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-") as scratch, ExitStack() as stack:
        proxies = _start(stack, Path(scratch), args.workers)
        names = list(proxies)
        for url, _ in proxies.values():  # warm up pools and lazy imports
            wrk(url, connections=max(args.connections), seconds=1)
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", flush=True)
            for connections in args.connections:
                turn = round_number % len(names)
                for name in names[turn:] + names[:turn]:
                    url, server = proxies[name]
                    run = measure(url, connections, args.seconds, [], server)
                    runs[name, connections].append(run)
                    print(
                        f"  {name:<8} c{connections:<5}{run.result.requests_per_second:>8.0f}"
                        f" req/s  p99 {run.result.p99_ms:>7.1f} ms"
                        f"  CPU {run.proxy_cpu_us or 0:>5.0f} µs/req"
                        f"  errors {run.result.errors}",
                        flush=True,
                    )

    print(
        f"\n{'proxy':<9}{'conns':>6}{'req/s':>9}{'CPU µs/req':>12}{'/nginx':>9}"
        f"{'p99 ms':>9}{'/nginx':>9}{'errors':>8}"
    )
    ratios: dict[tuple[str, int], tuple[float, float]] = {}
    for connections in args.connections:
        cpu = {
            name: median([r.proxy_cpu_us or 0 for r in runs[name, connections]]) for name in names
        }
        p99 = {name: median([r.result.p99_ms for r in runs[name, connections]]) for name in names}
        for name in names:
            measured = runs[name, connections]
            ratios[name, connections] = (cpu[name] / cpu["nginx"], p99[name] / p99["nginx"])
            print(
                f"{name:<9}{connections:>6}"
                f"{median([r.result.requests_per_second for r in measured]):>9.0f}"
                f"{cpu[name]:>12.0f}{ratios[name, connections][0]:>9.1f}"
                f"{p99[name]:>9.1f}{ratios[name, connections][1]:>9.1f}"
                f"{sum(r.result.errors for r in measured):>8}"
            )
    print("(medians of the rounds; errors: non-2xx answers and socket errors, all rounds)")
    if CPU_CONNECTIONS in args.connections:
        cpu_ratio = ratios["gateway", CPU_CONNECTIONS][0]
        print(
            f"\nCPU per request, c{CPU_CONNECTIONS}, gateway/nginx: {cpu_ratio:.1f}"
            f"  (target <= {CPU_TARGET:g}: {verdict(cpu_ratio, CPU_TARGET, at_most=True)})"
        )
    if TAIL_CONNECTIONS in args.connections:
        tail_ratio = ratios["gateway", TAIL_CONNECTIONS][1]
        print(
            f"p99, c{TAIL_CONNECTIONS}, gateway/nginx:             {tail_ratio:.1f}"
            f"  (target <= {TAIL_TARGET:g}: {verdict(tail_ratio, TAIL_TARGET, at_most=True)})"
        )


if __name__ == "__main__":
    main()
