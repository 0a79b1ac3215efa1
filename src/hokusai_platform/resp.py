"""A minimal pipelined Redis connection, for the one command on the gateway's hot path.

The rate limiter sends one EVALSHA per request. redis-py's asyncio client spends about three
times a bare loopback round trip on each command (pool checkout, connection health checks,
retries), which alone broke the budget of < 1 ms for the whole boundary. Here one connection
per process carries every call: RESP answers in order, so each reply resolves the oldest
waiting call; hiredis parses. A call that times out closes the connection (its reply could
otherwise be taken for the next call's) and the next call connects afresh.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import cast
from urllib.parse import unquote, urlsplit

import hiredis


class RedisError(Exception):
    """Redis could not answer: no connection, a timeout, or a protocol error."""


class ReplyError(RedisError):
    """Redis answered with an error (`-ERR …`, `-NOSCRIPT …`)."""


def _command(args: tuple[str | int | bytes, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = hiredis.Reader(replyError=ReplyError)
        self._waiting: collections.deque[asyncio.Future[object]] = collections.deque()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport (uvloop's is not an asyncio.Transport subclass, but behaves as one).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed(data)
            while (reply := self._parser.gets()) is not False:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:
            self._fail(RedisError(f"protocol error: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisError(f"connection lost: {exc or 'closed by the server'}"))

    def call(self, payload: bytes) -> asyncio.Future[object]:
        if self.transport is None or self.transport.is_closing():
            raise RedisError("not connected")
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self.transport.write(payload)
        return waiter

    def _fail(self, error: RedisError) -> None:
        if self.transport is not None:
            self.transport.close()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)


class RedisConnection:
    """`redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._ssl = ssl.create_default_context() if parts.scheme == "rediss" else None
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._db = int(parts.path.strip("/") or 0)
        self._timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def call(self, *args: str | int | bytes) -> object:
        """Send one command and return its reply; `ReplyError` for an error reply."""
        payload = _command(args)
        try:
            async with asyncio.timeout(self._timeout):
                protocol = await self._connected()
                reply = await protocol.call(payload)
        except TimeoutError:
            self.close()
            raise RedisError(f"no answer within {self._timeout} s") from None
        except OSError as exc:
            self.close()
            raise RedisError(f"cannot connect to {self._host}:{self._port}: {exc}") from None
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def _connected(self) -> _Protocol:
        if self._protocol is not None and not self._closing(self._protocol):
            return self._protocol
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is None or self._closing(self._protocol):
                self._protocol = await self._connect()
        return self._protocol

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Protocol, self._host, self._port, ssl=self._ssl)
        setup: list[tuple[str | int, ...]] = []
        if self._password is not None:
            credentials = (self._username, self._password) if self._username else (self._password,)
            setup.append(("AUTH", *credentials))
        if self._db:
            setup.append(("SELECT", self._db))
        for command in setup:
            reply = await protocol.call(_command(command))
            if isinstance(reply, ReplyError):
                protocol._fail(reply)
                raise reply
        return protocol

    @staticmethod
    def _closing(protocol: _Protocol) -> bool:
        return protocol.transport is None or protocol.transport.is_closing()

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
