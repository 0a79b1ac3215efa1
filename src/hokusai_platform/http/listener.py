"""Accepting connections on a listening socket, every pending one at each wake-up.

The event loop's own server (libuv's, under uvloop) accepts one connection per loop
iteration. A loop busy with hundreds of connections iterates every 10-50 ms, so a burst of
new ones waited in the kernel for up to two seconds, which was most of the gateway's p99 at
512 connections (bench/NOTES.md). A `Listener` reads the socket itself instead.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("hokusai.http")

# Connections accepted at one wake-up, at most: then the loop serves the others first.
ACCEPT_BATCH = 256
# How long accepting pauses when the process is out of descriptors or memory.
ACCEPT_PAUSE_SECONDS = 1.0


class Listener:
    """Accepts connections on `sock`, a bound and listening socket, and opens each with a
    protocol from `protocol_factory`, until closed."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._protocol_factory = protocol_factory
        self._open = True
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop accepting and close the socket (this process's copy of it)."""
        if self._open:
            self._open = False
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:  # out of descriptors or memory: try again in a moment
                log.error(
                    "cannot accept connections; trying again shortly",
                    extra={"error": exc.strerror, "seconds": ACCEPT_PAUSE_SECONDS},
                )
                self._loop.remove_reader(self._sock.fileno())
                self._loop.call_later(ACCEPT_PAUSE_SECONDS, self._resume)
                return
            self._loop.create_task(self._connect(conn))

    def _resume(self) -> None:
        if self._open:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    async def _connect(self, conn: socket.socket) -> None:
        if conn.family != socket.AF_UNIX:  # uvloop would set it; asyncio's loop does not
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, conn)
        except OSError:
            conn.close()  # gone before it could be served
