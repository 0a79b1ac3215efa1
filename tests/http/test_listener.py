"""Accepting connections: the server's listener, on loopback."""

from __future__ import annotations

import asyncio
import socket

import uvloop
from support.http_server import LIMITS, hello

from hokusai_platform.http.server import Server


def test_a_burst_of_connections_is_taken_in_at_once_not_one_per_loop_iteration() -> None:
    """Under uvloop, whose own server (libuv's) accepts one connection per loop iteration, a
    loop busy with hundreds of connections would leave a burst of new ones waiting."""
    burst, iterations = 64, 5

    async def run() -> int:
        listener = socket.create_server(("127.0.0.1", 0), backlog=burst)
        server = Server(hello, LIMITS)
        server.listen(listener)
        port = listener.getsockname()[1]
        # Connected by the kernel, waiting to be accepted.
        callers = [socket.create_connection(("127.0.0.1", port)) for _ in range(burst)]
        try:
            for _ in range(iterations):
                await asyncio.sleep(0)
            return len(server.connections)
        finally:
            server.close()
            for caller in callers:
                caller.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(run()) == burst


def test_an_accepted_connection_answers_without_waiting_for_more_to_send() -> None:
    """On asyncio's own loop too, which leaves Nagle's algorithm on for an accepted socket."""

    async def run() -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        server = Server(hello, LIMITS)
        server.listen(listener)
        caller = socket.create_connection(listener.getsockname())
        try:
            for _ in range(5):  # its wake-up, then the set-up task's steps
                await asyncio.sleep(0)
            (conn,) = server.connections
            assert conn.transport is not None
            sock = conn.transport.get_extra_info("socket")
            return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        finally:
            server.close()
            caller.close()

    assert asyncio.run(run()) == 1
