"""How much CPU a proxy may spend per request in front of MLflow on this machine.

The MLflow target (the gateway at 16 connections reaching >= 0.9x MLflow direct) is a CPU
budget: MLflow's workers keep every core busy, so what a proxy spends per request comes out
of MLflow's share. This bench measures that budget instead of arguing it. In one run, with the
rounds interleaved, it puts four proxies in front of one MLflow server: nginx, two minimal
Python forwarders and the gateway. For each one it prints the throughput against direct and
the proxy's own CPU time per request.

The forwarders (`bytes` and `parsed`) are described in bench/forwarders.py.

Many short rounds, for the reason `proxy_throughput` gives: MLflow's own speed drifts.

    .venv/bin/python bench/proxy_budget.py [--seconds 2] [--rounds 24]
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
    cpu_figures,
    free_port,
    interpreter,
    measure,
    median,
    median_or_dash,
    median_ratio,
    mlflow_workers,
    nginx_proxy,
    require,
    running,
    start_gateway,
    start_mlflow,
    wrk,
)

MLFLOW_RATIO_TARGET = 0.9


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=2, help="duration of each wrk run (2)")
    parser.add_argument("--rounds", type=int, default=24, help="interleaved rounds (24)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="(CPU count)")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    require("wrk", "nginx")
    print(interpreter(), flush=True)
    runs: dict[str, list[Run]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-") as scratch, ExitStack() as stack:
        root = Path(scratch)
        mlflow_port = free_port()
        print("starting MLflow (2 workers)…", flush=True)
        mlflow = stack.enter_context(running(start_mlflow(root / "mlflow", mlflow_port, 2)))
        assert mlflow.process is not None
        serving = mlflow_workers(mlflow.process.pid)
        urls = {"direct": f"http://127.0.0.1:{mlflow_port}/version"}
        proxies: dict[str, Server] = {}
        nginx_port = free_port()
        proxies["nginx"] = stack.enter_context(
            running(nginx_proxy(root / "nginx", nginx_port, mlflow_port).start())
        )
        urls["nginx"] = f"http://127.0.0.1:{nginx_port}/version"
        for kind in FORWARDERS:
            urls[kind], server = start_forwarder(root, kind, mlflow_port, args.workers)
            proxies[kind] = stack.enter_context(running(server))
        gateway_port = free_port()
        env = {
            "MLFLOW_SERVER_URL": f"http://127.0.0.1:{mlflow_port}",
            "HOKUSAI_WORKERS": str(args.workers),
            "HOKUSAI_ACCESS_LOG": "1",
        }
        proxies["gateway"] = stack.enter_context(
            running(start_gateway(root / "gateway.log", gateway_port, env))
        )
        urls["gateway"] = f"http://127.0.0.1:{gateway_port}/api/mlflow/version"
        for url in urls.values():  # warm up pools, caches and MLflow's lazy imports
            wrk(url, connections=16, seconds=1)
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", flush=True)
            names = list(urls) if round_number % 2 else list(reversed(urls))
            for name in names:
                run = measure(urls[name], 16, args.seconds, serving, proxies.get(name))
                runs[name].append(run)
                print(
                    f"  {name:<9}{run.result.requests_per_second:>7.0f} req/s{cpu_figures(run)}",
                    flush=True,
                )
    _summarise(runs)


def _summarise(runs: dict[str, list[Run]]) -> None:
    direct = runs["direct"]
    print(
        f"\n{'target':<10}{'ratio':>7}{'req/s':>8}{'proxy µs/req':>14}"
        f"{'MLflow µs/req':>15}{'MLflow cores':>14}"
    )
    for name, measured in runs.items():
        print(
            f"{name:<10}{median_ratio(measured, direct):>7.2f}"
            f"{median([run.result.requests_per_second for run in measured]):>8.0f}"
            f"{median_or_dash([run.proxy_cpu_us for run in measured]):>14}"
            f"{median_or_dash([run.mlflow_cpu_us for run in measured]):>15}"
            f"{median_or_dash([run.mlflow_cores for run in measured], digits=2):>14}"
        )
    own = median([run.mlflow_cpu_us or 0.0 for run in direct])
    print(
        f"(ratios: medians of the per-round values against direct. If a proxy left MLflow's own"
        f" {own:.0f} µs per request unchanged, it would reach {MLFLOW_RATIO_TARGET} while it"
        f" spent at most {own * (1 / MLFLOW_RATIO_TARGET - 1):.0f} µs per request.)"
    )


if __name__ == "__main__":
    main()
