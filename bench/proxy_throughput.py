"""Proxy throughput: the gateway against nginx and against MLflow direct, in one run.

Starts, on loopback: a static upstream (nginx `return 200`), nginx and the gateway in front of
it; a real MLflow server, nginx and the gateway in front of it. Then runs wrk (GET /version)
against each, interleaved over several rounds so that noise from other work on the machine
hits every target alike, and prints medians and the ratios the gateway must meet. The gateway
runs as `hokusai serve` with its default worker count and request logging on.

MLflow's workers share one listening socket, and a burst of new connections is sometimes
accepted by one worker alone: that run measures half an MLflow, whoever the client is. A run
against MLflow in which one worker did less than half the work of another is repeated (up to
three times), for every target alike, and the repeats are counted in the output.

    .venv/bin/python bench/proxy_throughput.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from harness import (
    WrkResult,
    cpu_seconds,
    free_port,
    median,
    mlflow_workers,
    nginx_proxy,
    nginx_static,
    require,
    running,
    start_gateway,
    start_mlflow,
    wrk,
)

STATIC_RATIO_TARGET = 0.25
MLFLOW_RATIO_TARGET = 0.9
ADDED_P50_TARGET_MS = 1.0
GATEWAY_PREFIX = "/api/mlflow"
LOPSIDED_REPEATS = 3


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--mlflow-workers", type=int, default=2, help="MLflow workers (2)")
    parser.add_argument(
        "--gateway-workers", type=int, default=os.cpu_count() or 1, help="(CPU count)"
    )
    return parser.parse_args()


def _measure(url: str, connections: int, seconds: int, serving: list[int]) -> tuple[WrkResult, int]:
    """One wrk run, repeated while MLflow's workers share it lopsidedly; and the repeats."""
    repeats = 0
    while True:
        before = [cpu_seconds(pid) for pid in serving]
        result = wrk(url, connections=connections, seconds=seconds)
        used = [cpu_seconds(pid) - start for pid, start in zip(serving, before, strict=True)]
        if len(used) < 2 or min(used) >= max(used) / 2 or repeats == LOPSIDED_REPEATS:
            return result, repeats
        repeats += 1


def _start_everything(
    stack: ExitStack, root: Path, args: argparse.Namespace
) -> tuple[dict[str, str], list[int]]:
    """Every target's `/version` URL, by name; and MLflow's worker processes."""
    port = {name: free_port() for name in ("static", "mlflow")}
    upstream = {name: f"http://127.0.0.1:{port[name]}" for name in port}
    urls: dict[str, str] = {}
    for name in ("static", "mlflow"):
        if name == "static":
            stack.enter_context(running(nginx_static(root / name, port[name]).start()))
        else:
            print(f"starting MLflow ({args.mlflow_workers} workers)…", flush=True)
            server = start_mlflow(root / name, port[name], args.mlflow_workers)
            stack.enter_context(running(server))
            assert server.process is not None
            serving = mlflow_workers(server.process.pid)
        urls[f"{name} direct"] = f"{upstream[name]}/version"
        nginx_port = free_port()
        nginx = nginx_proxy(root / f"nginx-{name}", nginx_port, port[name]).start()
        stack.enter_context(running(nginx))
        urls[f"{name} via nginx"] = f"http://127.0.0.1:{nginx_port}/version"
        gateway_port = free_port()
        env = {
            "MLFLOW_SERVER_URL": upstream[name],
            "HOKUSAI_WORKERS": str(args.gateway_workers),
            "HOKUSAI_ACCESS_LOG": "1",
        }
        gateway = start_gateway(root / f"gateway-{name}.log", gateway_port, env)
        stack.enter_context(running(gateway))
        urls[f"{name} via gateway"] = f"http://127.0.0.1:{gateway_port}{GATEWAY_PREFIX}/version"
    return urls, serving


def _plan(urls: dict[str, str]) -> list[tuple[str, str, int]]:
    """(label, url, connections) for one round."""
    runs = [(f"{name} c16", url, 16) for name, url in urls.items()]
    runs += [(f"{name} c1", url, 1) for name, url in urls.items() if name.startswith("mlflow")]
    return runs


def _verdict(value: float, target: float, *, at_most: bool = False) -> str:
    met = value <= target if at_most else value >= target
    return "met" if met else "MISSED"


def main() -> None:
    args = _arguments()
    require("wrk", "nginx")
    results: dict[str, list[WrkResult]] = defaultdict(list)
    repeated: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-") as scratch, ExitStack() as stack:
        urls, serving = _start_everything(stack, Path(scratch), args)
        runs = _plan(urls)
        for _, url, connections in runs:  # warm up pools, caches and MLflow's lazy imports
            wrk(url, connections=connections, seconds=1)
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", flush=True)
            for label, url, connections in runs:
                # One connection keeps one worker busy: only concurrent runs can be lopsided.
                concurrent = label.startswith("mlflow") and connections > 1
                watched = serving if concurrent else []
                result, repeats = _measure(url, connections, args.seconds, watched)
                results[label].append(result)
                repeated[label] += repeats
                print(
                    f"  {label:<26}{result.requests_per_second:>8.0f} req/s"
                    f"  p50 {result.p50_ms:.2f} ms",
                    flush=True,
                )

    print(f"\n{'target':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for label, rounds in results.items():
        print(
            f"{label:<28}{median([r.requests_per_second for r in rounds]):>10.0f}"
            f"{median([r.p50_ms for r in rounds]):>10.2f}"
            f"{median([r.p99_ms for r in rounds]):>10.2f}{sum(r.errors for r in rounds):>8}"
        )

    def ratios(numerator: str, denominator: str) -> list[float]:
        return [
            over.requests_per_second / under.requests_per_second
            for over, under in zip(results[numerator], results[denominator], strict=True)
        ]

    static_ratio = median(ratios("static via gateway c16", "static via nginx c16"))
    mlflow_ratio = median(ratios("mlflow via gateway c16", "mlflow direct c16"))
    added_p50 = median(
        [
            through.p50_ms - direct.p50_ms
            for through, direct in zip(
                results["mlflow via gateway c1"], results["mlflow direct c1"], strict=True
            )
        ]
    )
    print(
        f"\ngateway/nginx, static upstream, c16: {static_ratio:.2f}"
        f"  (target >= {STATIC_RATIO_TARGET}: {_verdict(static_ratio, STATIC_RATIO_TARGET)})"
    )
    print(
        f"gateway/direct, MLflow, c16:         {mlflow_ratio:.2f}"
        f"  (target >= {MLFLOW_RATIO_TARGET}: {_verdict(mlflow_ratio, MLFLOW_RATIO_TARGET)})"
    )
    verdict = _verdict(added_p50, ADDED_P50_TARGET_MS, at_most=True)
    print(
        f"added p50 vs MLflow direct, c1:      {added_p50:.2f} ms"
        f"  (target <= {ADDED_P50_TARGET_MS} ms: {verdict})"
    )
    print("(ratios and added latency: medians of the per-round values)")
    lopsided = ", ".join(f"{label} {count}" for label, count in repeated.items() if count)
    print(f"runs repeated because MLflow's workers shared them lopsidedly: {lopsided or 'none'}")


if __name__ == "__main__":
    main()
