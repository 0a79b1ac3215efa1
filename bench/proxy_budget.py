"""How much CPU a proxy may spend per request in front of MLflow on this machine.

The MLflow target (the gateway at 16 connections reaching >= 0.9x MLflow direct) is a CPU
budget: MLflow's workers keep every core busy, so what a proxy spends per request comes out
of MLflow's share. This bench measures that budget instead of arguing it. In one run, with the
rounds interleaved, it puts four proxies in front of one MLflow server: nginx, two minimal
Python forwarders and the gateway. For each one it prints the throughput against direct and
the proxy's own CPU time per request.

- `bytes` forwarder: one protocol per side, bytes passed on as they arrive. This is the floor
  of any asyncio proxy.
- `parsed` forwarder: httptools parsing both ways, a coroutine per request, pooled upstream
  connections. It is an HTTP proxy with none of the gateway's behaviour: no limits, no header
  hygiene, no errors, no logs. Neither forwarder is a product.

Many short rounds, for the reason `proxy_throughput` gives: MLflow's own speed drifts.

    .venv/bin/python bench/proxy_budget.py [--seconds 2] [--rounds 24]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import cast

import httptools
import uvloop
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
from support.processes import wait_for_http

MLFLOW_RATIO_TARGET = 0.9
FORWARDERS = ("bytes", "parsed")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=2, help="duration of each wrk run (2)")
    parser.add_argument("--rounds", type=int, default=24, help="interleaved rounds (24)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="(CPU count)")
    parser.add_argument("--forwarder", choices=FORWARDERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream-port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


# The `bytes` forwarder.


class _BytesUpstream(asyncio.Protocol):
    def __init__(self, caller: asyncio.Transport) -> None:
        self.caller = caller

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.caller.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.caller.close()


class _BytesCaller(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.upstream: asyncio.Transport | None = None
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        caller = cast(asyncio.Transport, self.transport)
        self.upstream, _ = await loop.create_connection(
            lambda: _BytesUpstream(caller), "127.0.0.1", self.upstream_port
        )
        for data in self.early:
            self.upstream.write(data)

    def data_received(self, data: bytes) -> None:
        if self.upstream is None:
            self.early.append(data)
        else:
            self.upstream.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None:
            self.upstream.close()


# The `parsed` forwarder.


class _ParsedUpstream(asyncio.Protocol):
    """One pooled connection to MLflow, one answer at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.done: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("MLflow closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.done is not None:
            self.done.set_result(None)


class _ParsedCaller(asyncio.Protocol):
    def __init__(self, upstream_port: int, pool: list[_ParsedUpstream]) -> None:
        self.upstream_port = upstream_port
        self.pool = pool
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url, self.headers = b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        asyncio.get_running_loop().create_task(self._forward(method, self.url, self.headers))

    async def _forward(self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        upstream = await self._connection()
        upstream.headers, upstream.body = [], []
        upstream.done = asyncio.get_running_loop().create_future()
        fields = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        upstream.transport.write(method + b" " + url + b" HTTP/1.1\r\n" + fields + b"\r\n")
        await upstream.done
        status = upstream.parser.get_status_code()
        answer = b"".join(
            name + b": " + value + b"\r\n"
            for name, value in upstream.headers
            if name.lower() != b"connection"
        )
        self.pool.append(upstream)
        body = b"".join(upstream.body)
        self.transport.write(b"HTTP/1.1 %d \r\n%s\r\n%s" % (status, answer, body))

    async def _connection(self) -> _ParsedUpstream:
        while self.pool:
            upstream = self.pool.pop()
            if not upstream.closed:
                return upstream
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_connection(_ParsedUpstream, "127.0.0.1", self.upstream_port)
        return upstream


def _serve_forwarder(kind: str, port: int, upstream_port: int, workers: int) -> None:
    """Run a forwarder in `workers` processes sharing one listening socket, until killed."""
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    for _ in range(workers - 1):
        if os.fork() == 0:
            break

    async def forward() -> None:
        pool: list[_ParsedUpstream] = []

        def protocol() -> asyncio.Protocol:
            if kind == "bytes":
                return _BytesCaller(upstream_port)
            return _ParsedCaller(upstream_port, pool)

        await asyncio.get_running_loop().create_server(protocol, sock=listener)
        await asyncio.Event().wait()

    uvloop.run(forward())


def _start_forwarder(root: Path, kind: str, upstream_port: int, workers: int) -> tuple[str, Server]:
    port = free_port()
    argv = [sys.executable, __file__, "--forwarder", kind, "--port", str(port)]
    argv += ["--upstream-port", str(upstream_port), "--workers", str(workers)]
    server = Server(argv=argv, log=root / f"{kind}.log").start()
    wait_for_http(
        f"http://127.0.0.1:{port}/health", timeout=30, process=server.process, log=server.log
    )
    return f"http://127.0.0.1:{port}/version", server


def main() -> None:
    args = _arguments()
    if args.forwarder is not None:
        _serve_forwarder(args.forwarder, args.port, args.upstream_port, args.workers)
        return
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
            urls[kind], server = _start_forwarder(root, kind, mlflow_port, args.workers)
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
