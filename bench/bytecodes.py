"""How much Python the gateway runs per proxied request: bytecodes and calls, by function.

Starts a real MLflow server (one worker) and a gateway (one worker, request logging on) whose
interpreter counts every bytecode it executes, by function. Sends warm-up requests, then
counts over `--requests` more: GET /api/mlflow/version with the header fields the MLflow
client sends, on two keep-alive connections, one request at a time. Prints the bytecodes and
Python calls per request, the functions that run the most, and, for every module, its share.

Unlike the wrk benches, the figures hardly depend on what else the machine is doing: runs of
the same code print numbers within a few per cent of each other. (What still varies: how many
once-a-second timers fire during the count, and, for code that reads an answer's head before
its body has arrived, whether MLflow's head and body reach the gateway in one read or two.)
They are not time, since a bytecode that calls into C can cost a hundred plain ones, but they
show what a change to the hot path removed or added.

With `--key`, the gateway enforces keys (no Redis: no rate limits) and the requests are
GET /api/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0 with a write key that has no
grants: the boundary's own cost, scope and grants included.

    .venv/bin/python bench/bytecodes.py [--requests 300] [--top 30] [--key]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

TRACED = "--traced-gateway"
HEADERS = {
    "User-Agent": "mlflow-python-client/3.17.0",
    "Accept-Encoding": "gzip, deflate",
    "Accept": "*/*",
    "Connection": "keep-alive",
}
PATH = "/api/mlflow/version"
KEYED_PATH = "/api/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests counted (300)")
    parser.add_argument("--top", type=int, default=30, help="functions listed (30)")
    parser.add_argument("--key", action="store_true", help="keys enforced, a write key")
    return parser.parse_args()


def _keyed(root: Path) -> tuple[dict[str, str], str]:
    """A keys database with one write key and no grants: the environment and the key."""
    from hokusai_platform.keys.rates import Rate
    from hokusai_platform.keys.scopes import Scope
    from hokusai_platform.keys.store import KeyStore

    url = f"sqlite:///{root / 'keys.db'}"
    store = KeyStore.open(url)
    secret = store.create("bench", Scope.WRITE, Rate(1_000_000, 60)).secret
    store.close()
    return {"HOKUSAI_AUTH": "required", "HOKUSAI_DATABASE_URL": url}, secret


def _traced_gateway(counts_path: str, argv: list[str]) -> None:
    """Run `hokusai serve`; count bytecodes between SIGUSR1 and SIGUSR2, then write them."""
    bytecodes: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        code = frame.f_code
        where = f"{_module(code.co_filename)}:{code.co_qualname}"
        if event == "call":
            calls[where] += 1
            frame.f_trace_opcodes = True
        elif event == "opcode":
            bytecodes[where] += 1
        return trace

    def start(signum: int, frame: object) -> None:
        sys.settrace(trace)

    def stop(signum: int, frame: object) -> None:
        sys.settrace(None)
        Path(counts_path).write_text(json.dumps({"bytecodes": bytecodes, "calls": calls}))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from hokusai_platform.cli import main

    sys.argv = ["hokusai", *argv]
    main()


def _module(filename: str) -> str:
    """`hokusai_platform/http/server.py` → `http/server.py`; other packages by file name."""
    parts = Path(filename).parts
    if "hokusai_platform" in parts:
        return "/".join(parts[parts.index("hokusai_platform") + 1 :])
    return f"({Path(filename).name})"


def main() -> None:
    args = _arguments()
    from harness import free_port, interpreter, running, start_mlflow
    from support.processes import wait_for_http

    print(interpreter(), flush=True)
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-") as scratch, ExitStack() as stack:
        root = Path(scratch)
        mlflow_port, gateway_port = free_port(), free_port()
        print("starting MLflow (1 worker)…", flush=True)
        stack.enter_context(running(start_mlflow(root / "mlflow", mlflow_port, 1)))
        counts_path = root / "counts.json"
        env = {
            **os.environ,
            "MLFLOW_SERVER_URL": f"http://127.0.0.1:{mlflow_port}",
            "HOKUSAI_WORKERS": "1",
            "HOKUSAI_AUTH": "off",
            "HOKUSAI_ACCESS_LOG": "1",
            "HOKUSAI_DRAIN_SECONDS": "0",
        }
        path, headers = PATH, HEADERS
        if args.key:
            keyed, secret = _keyed(root)
            env.update(keyed)
            env.pop("REDIS_URL", None)
            path, headers = KEYED_PATH, {**HEADERS, "Authorization": f"Bearer {secret}"}
        argv = [sys.executable, __file__, TRACED, str(counts_path), "serve"]
        gateway = subprocess.Popen(
            [*argv, "--port", str(gateway_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(root / "gateway.log").open("w"),
        )
        try:
            base = f"http://127.0.0.1:{gateway_port}"
            wait_for_http(
                f"{base}/health/live", timeout=30, process=gateway, log=root / "gateway.log"
            )
            connections = [http.client.HTTPConnection("127.0.0.1", gateway_port) for _ in "ab"]
            _send(connections, 200, path, headers)  # warm: pooled connections, caches, imports
            gateway.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
            _send(connections, args.requests, path, headers)
            gateway.send_signal(signal.SIGUSR2)
            _wait_for(counts_path)
        finally:
            gateway.send_signal(signal.SIGINT)
            gateway.wait(timeout=30)
        counts = json.loads(counts_path.read_text())
    _report(counts["bytecodes"], counts["calls"], args.requests, args.top)


def _send(
    connections: list[http.client.HTTPConnection],
    requests: int,
    path: str,
    headers: dict[str, str],
) -> None:
    for number in range(requests):
        connection = connections[number % len(connections)]
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"bench: GET {path} answered {response.status}")


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 10
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit("bench: the traced gateway wrote no counts")
        time.sleep(0.1)
    time.sleep(0.2)  # written in one call, but let it finish


def _report(bytecodes: dict[str, int], calls: dict[str, int], requests: int, top: int) -> None:
    print(
        f"per proxied request: {sum(bytecodes.values()) / requests:.0f} bytecodes,"
        f" {sum(calls.values()) / requests:.1f} Python calls ({requests} requests)"
    )
    print(f"\n{'bytecodes':>9} {'calls':>6}  function")
    for where, count in sorted(bytecodes.items(), key=lambda item: -item[1])[:top]:
        print(f"{count / requests:9.1f} {calls.get(where, 0) / requests:6.2f}  {where}")
    by_module: collections.Counter[str] = collections.Counter()
    for where, count in bytecodes.items():
        by_module[where.split(":")[0]] += count
    print(f"\n{'bytecodes':>9}  module")
    for module, count in by_module.most_common():
        if count / requests >= 1:
            print(f"{count / requests:9.1f}  {module}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == TRACED:
        _traced_gateway(sys.argv[2], sys.argv[3:])
    else:
        main()
