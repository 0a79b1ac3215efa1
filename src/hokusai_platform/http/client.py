"""A lean pooled HTTP/1.1 client: send a request to an `Origin`, stream the answer back.

A general-purpose client (aiohttp's) spent more time per request than the rest of the gateway
together (see BENCHMARKS.md); this one writes the request head in one buffer, parses the
answer with httptools, keeps idle connections per origin, and streams bodies both ways with
back-pressure. Failures are raised as the small hierarchy below; what they mean to a caller
is for the user of the client to say.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, NamedTuple

import httptools

from hokusai_platform.http.errors import (
    ClientError,
    ClientTimeout,
    ConnectError,
    NameResolutionError,
    RemoteProtocolError,
)
from hokusai_platform.http.fields import Fields, first_value, lowered_names
from hokusai_platform.http.protocol import BODY, HEAD, IDLE, Body, HttpProtocol

# A connection idle this long is closed rather than reused: servers drop idle keep-alive
# connections after a few seconds (uvicorn: 5 s), and a request sent on one just as it is
# dropped would fail for no reason.
IDLE_SECONDS = 4.0
# An answer declaring at most this length is returned whole: `send` returns once its body is
# in, so the caller's task wakes once for it, not for its head and again for its body (MLflow
# writes the two apart).
WHOLE_ANSWER_BYTES = 256 * 1024

_FRAMING = (b"content-length", b"transfer-encoding")


class Origin(NamedTuple):
    """Where requests go: pools are keyed by it (a plain tuple of the same values is equal)."""

    scheme: str
    host: str  # a name or an address
    port: int

    @property
    def authority(self) -> str:
        """The Host header the origin is sent."""
        return authority(self.host, self.port)


def authority(host: str, port: int) -> str:
    """`host:port`, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


Content = bytes | AsyncIterable[bytes] | None


class ClientConnection(HttpProtocol):
    """One keep-alive connection to an origin; reads one answer at a time.

    The answer's head future resolves once its head is in or, for a small answer of declared
    length, once all of it is."""

    def __init__(self, client: Client, origin: Origin) -> None:
        timeout = client.read_timeout
        super().__init__(
            client.loop,
            timeout=timeout,
            check_every=min(timeout / 4, 1.0),
            registry=client.connections,
        )
        self.origin = origin
        # The answer being read.
        self.body = self._body = Body(self)  # one per connection: its answers come in turn
        self.headers: Fields = []
        self.field_names: list[bytes] = []  # the headers' names in lower case, once all are in
        self.answer_began = False  # a byte of it arrived: the request was processed
        self.status = 0
        self._head: asyncio.Future[None] | None = None
        self._head_only = False
        self.reusable = False  # the answer lets its connection be kept

    def _new_parser(self) -> Any:
        return httptools.HttpResponseParser(self)

    # asyncio.Protocol

    def connection_lost(self, exc: Exception | None) -> None:
        reading_body = self.state is BODY
        super().connection_lost(exc)
        if reading_body and not any(name in _FRAMING for name in self.field_names):
            self._complete()  # a body without length or chunking ends with the connection
        self._fail(RemoteProtocolError("connection closed before the response was complete"))

    def _parse(self, data: bytes) -> None:
        self.answer_began = True
        if self.state is IDLE:
            self.close()  # no answer is awaited: whatever this is, the connection is spent
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RemoteProtocolError(f"invalid HTTP response ({exc})"))
            self.close()

    def _closed_error(self) -> Exception:
        return RemoteProtocolError("connection closed while sending the request")

    def timed_out(self) -> None:
        if self.state is HEAD or self.state is BODY:
            what = "no response" if self.state is HEAD else "no data"
            self._fail(ClientTimeout(f"{what} within {self.timeout:g}s"))
        self.close()  # or an idle one past IDLE_SECONDS

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.field_names = lowered_names(self.headers)
        if self._head_only:
            # An answer to HEAD has no body whatever its Content-Length says; the parser cannot
            # be told so, so the connection is not reused.
            self._complete()
            self.close()
            return
        self.state = BODY
        # Asked now: a body that bypasses the parser never completes its message there.
        self.reusable = self._parser.should_keep_alive()
        self._length = length = _declared_length(self.headers, self.field_names)
        if length is None or length > WHOLE_ANSWER_BYTES:
            _resolve(self._head)  # else once the body is in

    def on_message_complete(self) -> None:
        self.state = IDLE
        self._complete()

    # Used by the client.

    def begin(self, head_only: bool) -> asyncio.Future[None]:
        """Ready the connection for the answer to a request about to be sent."""
        self.state = HEAD
        self.deadline = None  # armed once the request is sent
        self.body.complete = False  # ready for this answer's body, the last one read whole
        self.headers, self.field_names = [], []
        self._length, self._received = None, 0
        self.reusable = False
        self._head_only = head_only
        self.answer_began = False
        self._head = self.loop.create_future()
        return self._head

    async def send_stream(self, content: AsyncIterable[bytes], *, chunked: bool) -> None:
        async for chunk in content:
            if chunk:
                self.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                await self.drain()
        if chunked:
            self.write(b"0\r\n\r\n")
            await self.drain()

    def _complete(self) -> None:
        self.deadline = None
        self.body.finish()
        _resolve(self._head)

    def _fail(self, error: ClientError) -> None:
        head = self._head
        if head is not None and not head.done():
            head.set_exception(error)
        self.body.fail(error)


def _declared_length(headers: Fields, names: list[bytes]) -> int | None:
    """Content-Length, unless chunked framing overrides it (the parser checked the syntax)."""
    if b"transfer-encoding" in names:
        return None
    length = first_value(headers, names, b"content-length")
    return int(length) if length is not None else None


def _resolve(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class ClientResponse:
    """Status and headers as soon as they arrive; the body is read or streamed after."""

    __slots__ = ("_client", "_conn", "_finished", "field_names", "headers", "length", "status")

    def __init__(self, client: Client, conn: ClientConnection) -> None:
        self._client = client
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers
        self.field_names = conn.field_names
        self.length = conn._length  # None: chunked, until close, or an answer to HEAD
        self._finished = False

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header, `name` in lower case."""
        return first_value(self.headers, self.field_names, name)

    async def read(self) -> bytes:
        body = self._conn.body.read_complete()
        if body is None:
            body = b"".join([chunk async for chunk in self._conn.body.chunks()])
        self._release()
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._conn.body.chunks():
            yield chunk
        self._release()

    def _release(self) -> None:
        if not self._finished:
            self._finished = True
            self._client.release(self._conn)

    def close(self) -> None:
        """Give the connection back if the body was read to its end, else drop it."""
        if not self._finished:
            self._finished = True
            self._conn.close()


class _Pool:
    """An origin's idle connections, and the Host field its requests carry."""

    __slots__ = ("host_field", "idle")

    def __init__(self, origin: Origin) -> None:
        self.host_field = b"Host: %s\r\n" % origin.authority.encode()
        self.idle: list[ClientConnection] = []


class Client:
    """Pooled keep-alive connections, per origin, for one event loop."""

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.loop = asyncio.get_running_loop()
        self.connections: set[ClientConnection] = set()
        self._pools: dict[Origin, _Pool] = {}

    async def send(
        self,
        origin: Origin,
        method: str,
        target: str,
        fields: bytes = b"",
        content: Content = None,
        *,
        content_length: int | None = None,
    ) -> ClientResponse:
        """Send one request and return once the answer's head has arrived (all of the answer,
        if it declares at most WHOLE_ANSWER_BYTES).

        `fields` are the request's header lines (each ending CRLF) but Host, which names
        `origin`, and the body's framing. Streamed `content` is sent chunked unless
        `content_length` is given. Silence from the origin for `read_timeout` (the request
        sent, or between pieces of its answer) raises ClientTimeout.
        """
        if isinstance(content, bytes):
            framing = b"Content-Length: %d\r\n" % len(content)
        elif content is None:
            framing = b""
        elif content_length is None:
            framing = b"Transfer-Encoding: chunked\r\n"
        else:
            framing = b"Content-Length: %d\r\n" % content_length
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(origin)
        head = b"%s %s HTTP/1.1\r\n%s%s%s\r\n" % (
            method.encode(),
            target.encode("utf-8", "surrogateescape"),
            pool.host_field,
            fields,
            framing,
        )
        conn = None
        idle = pool.idle
        while idle:  # the freshest idle connection, closing those too old to reuse
            conn = idle.pop()
            if (
                conn.state is IDLE
                and conn.deadline is not None
                and conn.deadline > self.loop.time()
            ):
                break
            conn.close()
            conn = None
        reused = conn is not None
        if conn is None:
            conn = await self._connect(origin)
        try:
            answered = conn.begin(head_only=method == "HEAD")
            if isinstance(content, bytes) or content is None:
                conn.write(head + content if content else head)
                await conn.drain()
            else:
                conn.write(head)
                await conn.send_stream(content, chunked=content_length is None)
            conn.deadline = self.loop.time() + self.read_timeout
            await answered
        except RemoteProtocolError:
            conn.close()
            if reused and not conn.answer_began and not isinstance(content, AsyncIterable):
                # The origin dropped an idle connection just as it was reused: nothing was
                # processed, so the request is sent once more on a new connection.
                return await self.send(origin, method, target, fields, content)
            raise
        except BaseException:
            conn.close()
            raise
        return ClientResponse(self, conn)

    async def _connect(self, origin: Origin) -> ClientConnection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await self.loop.create_connection(
                    lambda: ClientConnection(self, origin),
                    origin.host,
                    origin.port,
                    ssl=origin.scheme == "https" or None,
                )
        except TimeoutError:
            raise ClientTimeout(f"connect took over {self.connect_timeout:g}s") from None
        except socket.gaierror as exc:
            raise NameResolutionError(exc.strerror or str(exc)) from None
        except OSError as exc:
            raise ConnectError(exc.strerror or str(exc)) from None
        return conn  # with TCP_NODELAY: both asyncio's loop and uvloop set it on connecting

    def release(self, conn: ClientConnection) -> None:
        """Take back a connection whose answer was read to its end."""
        pool = self._pools.get(conn.origin)
        if conn.state is IDLE and conn.reusable and pool is not None:
            conn.deadline = self.loop.time() + IDLE_SECONDS  # then closed, not reused
            pool.idle.append(conn)
        else:
            conn.close()

    def forget(self, origin: Origin) -> None:
        """Close the idle connections to an origin no longer used."""
        pool = self._pools.pop(origin, None)
        for conn in pool.idle if pool is not None else ():
            conn.close()

    async def close(self) -> None:
        for conn in list(self.connections):
            conn.close()
        self._pools.clear()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
