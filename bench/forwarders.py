"""Two minimal Python forwarders: the floors a Python proxy on uvloop cannot go below.

- `bytes` forwarder: one protocol per side, bytes passed on as they arrive. This is the floor
  of any asyncio proxy.
- `parsed` forwarder: httptools parsing both ways, a coroutine per request, pooled upstream
  connections. It is an HTTP proxy with none of the gateway's behaviour: no limits, no header
  hygiene, no errors, no logs. Neither forwarder is a product.

Each runs as its own process tree (`start_forwarder`), started by running this file.

    .venv/bin/python bench/forwarders.py KIND PORT UPSTREAM_PORT WORKERS
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import cast

import httptools
import uvloop
from harness import Server, free_port
from support.processes import wait_for_http

FORWARDERS = ("bytes", "parsed")


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
        # Kept: on Python 3.11 every get_running_loop() is a getpid() system call.
        self.loop = asyncio.get_running_loop()
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
        self.loop.create_task(self._forward(method, self.url, self.headers))

    async def _forward(self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        upstream = await self._connection()
        upstream.headers, upstream.body = [], []
        upstream.done = self.loop.create_future()
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


def _serve(kind: str, port: int, upstream_port: int, workers: int) -> None:
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


def start_forwarder(root: Path, kind: str, upstream_port: int, workers: int) -> tuple[str, Server]:
    port = free_port()
    argv = [sys.executable, __file__, kind, str(port), str(upstream_port), str(workers)]
    server = Server(argv=argv, log=root / f"{kind}.log").start()
    wait_for_http(
        f"http://127.0.0.1:{port}/health", timeout=30, process=server.process, log=server.log
    )
    return f"http://127.0.0.1:{port}/version", server


if __name__ == "__main__":
    kind, port, upstream_port, workers = sys.argv[1:]
    _serve(kind, int(port), int(upstream_port), int(workers))
