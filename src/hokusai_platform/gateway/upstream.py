"""A lean pooled HTTP/1.1 client for the proxy's one job: send a request to an endpoint.

The general-purpose client (aiohttp's) spent more time per request than the rest of the
gateway together (see BENCHMARKS.md); this one writes the request head in one buffer, parses
the answer with httptools, keeps idle connections per endpoint, and streams bodies both ways
with back-pressure. Failures are raised as the small hierarchy below, which the proxy maps to
MLflow-shaped errors in one place.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from typing import cast

import httptools

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.http.fields import first_value

# A connection idle this long is closed rather than reused: servers drop idle keep-alive
# connections after a few seconds (uvicorn: 5 s), and a request sent on one just as it is
# dropped would fail for no reason.
IDLE_SECONDS = 4.0
# Reading from the upstream pauses once this much of a body waits for the caller.
READ_BUFFER_HIGH = 256 * 1024
READ_BUFFER_LOW = 64 * 1024
# An answer declaring at most this length is returned whole: `send` returns once its body is
# in, so the request's task wakes once for it, not for its head and again for its body (MLflow
# writes the two apart).
WHOLE_ANSWER_BYTES = 256 * 1024


_FRAMING = (b"content-length", b"transfer-encoding")


class UpstreamError(Exception):
    """Sending to an endpoint or reading its answer failed."""


class ConnectError(UpstreamError):
    """The endpoint refused or could not be reached."""


class NameResolutionError(ConnectError):
    """The endpoint's host name does not resolve."""


class UpstreamTimeout(UpstreamError):
    """Connecting took too long, or the endpoint went silent."""


class ProtocolError(UpstreamError):
    """The endpoint closed the connection early or answered something that is not HTTP."""


Content = bytes | AsyncIterable[bytes] | None


class _Connection(asyncio.Protocol):
    """One keep-alive connection; parses one response at a time.

    The answer's future resolves once its head is in or, for a small answer of declared
    length, once all of it is.

    Once the head is in, the rest of a body of declared length is taken as it arrives,
    without passing through the parser (which would copy every piece once more): such bodies
    are artifacts, and large.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Kept, not looked up: on Python 3.11 every get_running_loop() is a getpid() call.
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._head: asyncio.Future[None] | None = None
        self._data: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._head_only = False
        self._head_in = False
        self.answer_began = False  # a byte of the answer arrived: the request was processed
        self.headers: list[tuple[bytes, bytes]] = []
        self.field_names: list[bytes] = []  # the headers' names in lower case, once all are in
        self.complete = False
        self._reusable = False
        self.error: UpstreamError | None = None
        self.declared_length: int | None = None  # the answer's Content-Length, if it has one
        self._received = 0  # body bytes the parser passed on
        self._body_left = 0  # body bytes still to come, past the parser
        self._parser_spent = False  # left mid-body: the next answer needs a new one

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.answer_began = True
        if self._body_left:
            self._take_body(data)
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"invalid HTTP response ({exc})"))
            self._close()
            return
        if self.declared_length is not None and self._head_in and not self.complete:
            self._body_left = self.declared_length - self._received
            self._parser_spent = True

    def _take_body(self, data: bytes) -> None:
        if len(data) > self._body_left:
            self._fail(ProtocolError("the response is longer than its Content-Length"))
            self._close()
            return
        self._body_left -= len(data)
        self.on_body(data)
        if not self._body_left:
            self.complete = True
            _resolve(self._head)
            _resolve(self._data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.error is None and self._head_in and not self._framed():
            self.complete = True  # a body without length or chunking ends with the connection
            _resolve(self._data)
        if not self.complete:
            self._fail(ProtocolError("connection closed before the response was complete"))
        self._wake_writer()

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    def _framed(self) -> bool:
        return any(name in _FRAMING for name in self.field_names)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_in = True
        self.field_names = [name.lower() for name, _ in self.headers]
        if self._head_only:
            # A HEAD answer has no body whatever its Content-Length says; the parser cannot be
            # told so, so the connection is not reused.
            self.complete = True
            self._close()
        else:
            # Asked now: a body that bypasses the parser never completes its message there.
            self._reusable = self._parser.should_keep_alive()
            self.declared_length = _declared_length(self.headers, self.field_names)
            if self.declared_length is not None and self.declared_length <= WHOLE_ANSWER_BYTES:
                return  # resolved once the body is in
        _resolve(self._head)

    def on_body(self, body: bytes) -> None:
        self._received += len(body)
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > READ_BUFFER_HIGH and not self._paused and self.transport:
            self._paused = True
            self.transport.pause_reading()
        _resolve(self._data)

    def on_message_complete(self) -> None:
        self.complete = True
        _resolve(self._head)
        _resolve(self._data)

    # used by the client
    def begin(self, head_only: bool) -> asyncio.Future[None]:
        if self._parser_spent:
            self._parser = httptools.HttpResponseParser(self)
            self._parser_spent = False
        self.declared_length, self._received = None, 0
        self.headers, self.field_names = [], []
        self.complete = False
        self._reusable = False
        self.error = None
        self._head_only = head_only
        self._head_in = self.answer_began = False
        self._head = self._loop.create_future()
        return self._head

    @property
    def status(self) -> int:
        return self._parser.get_status_code()

    @property
    def keep_alive(self) -> bool:
        return not self.closed and self.complete and self._reusable

    async def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise ProtocolError("connection closed while sending the request")
        self.transport.write(data)
        if self._writable is not None:
            await self._writable

    async def next_chunk(self, silence: float) -> bytes:
        """The next piece of the body, b"" at its end."""
        while not self._chunks:
            if self.complete:
                return b""
            if self.error is not None:
                raise self.error
            self._data = self._loop.create_future()
            await _within(self._loop, self._data, silence, "no data")
        chunk = self._chunks.popleft()
        self._taken(len(chunk))
        return chunk

    def take_complete_body(self) -> bytes | None:
        """The whole body at once if all of it has arrived (a small answer's usually has)."""
        if not self.complete:
            return None
        body = b"".join(self._chunks)
        self._chunks.clear()
        self._taken(len(body))
        return body

    def _taken(self, size: int) -> None:
        """`size` buffered bytes were handed on: read again once the buffer has drained."""
        self._buffered -= size
        if self._paused and self._buffered < READ_BUFFER_LOW and self.transport:
            self._paused = False
            self.transport.resume_reading()

    def _fail(self, error: UpstreamError) -> None:
        self.error = error
        for waiter in (self._head, self._data):
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    def _wake_writer(self) -> None:
        waiter, self._writable = self._writable, None
        _resolve(waiter)

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def _within(
    loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None], seconds: float, what: str
) -> None:
    """Await `waiter`, or raise UpstreamTimeout after `seconds` (a timer: asyncio.timeout costs
    a context manager and a task lookup on every request)."""
    timer = loop.call_later(seconds, _expire, waiter, seconds, what)
    try:
        await waiter
    finally:
        timer.cancel()


def _expire(waiter: asyncio.Future[None], seconds: float, what: str) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout(f"{what} within {seconds:g}s"))


class _Deadlines:
    """One timeout for many waits, checked by one repeating timer per client.

    Every request waits for its answer's head; a timer made and cancelled for each of them is
    a measurable part of a request's cost at MLflow's pace (BENCHMARKS.md). A wait here expires
    at most a quarter of its timeout (and at most a second) after it is due."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self._what = what
        self._period = min(seconds / 4, 1.0)
        self._due: dict[asyncio.Future[None], float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, waiter: asyncio.Future[None]) -> None:
        loop = waiter.get_loop()
        self._due[waiter] = loop.time() + self.seconds
        if self._timer is None:
            self._timer = loop.call_later(self._period, self._sweep, loop)

    def discard(self, waiter: asyncio.Future[None]) -> None:
        self._due.pop(waiter, None)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for waiter in [waiter for waiter, due in self._due.items() if due <= now]:
            del self._due[waiter]
            _expire(waiter, self.seconds, self._what)
        self._timer = loop.call_later(self._period, self._sweep, loop) if self._due else None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _declared_length(headers: list[tuple[bytes, bytes]], names: list[bytes]) -> int | None:
    """Content-Length, unless chunked framing overrides it (the parser checked the syntax)."""
    if b"transfer-encoding" in names:
        return None
    length = first_value(headers, names, b"content-length")
    return int(length) if length is not None else None


def _resolve(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class UpstreamResponse:
    """Status and headers as soon as they arrive; the body is read or streamed after."""

    def __init__(self, client: UpstreamClient, endpoint: Endpoint, conn: _Connection) -> None:
        self._client = client
        self._endpoint = endpoint
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers
        self.field_names = conn.field_names
        self.length = conn.declared_length  # None: chunked, until close, or a HEAD answer
        self._finished = False

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header, `name` in lower case."""
        return first_value(self.headers, self.field_names, name)

    async def read(self) -> bytes:
        body = self._conn.take_complete_body()
        if body is None:
            chunks = []
            while chunk := await self._conn.next_chunk(self._client.read_timeout):
                chunks.append(chunk)
            body = b"".join(chunks)
        self._release()
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self._conn.next_chunk(self._client.read_timeout):
            yield chunk
        self._release()

    def _release(self) -> None:
        if not self._finished:
            self._finished = True
            self._client.release(self._endpoint, self._conn)

    def close(self) -> None:
        """Give the connection back if the body was read to its end, else drop it."""
        if not self._finished:
            self._finished = True
            self._conn._close()


class UpstreamClient:
    """Pooled keep-alive connections, per endpoint, for one event loop."""

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._answers = _Deadlines(read_timeout, "no response")
        # Keyed by address: a stale or fallback label on the same server shares its connections.
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}

    async def send(
        self,
        endpoint: Endpoint,
        method: str,
        target: str,
        fields: bytes = b"",
        body: Content = None,
        *,
        content_length: int | None = None,
    ) -> UpstreamResponse:
        """Send one request and return once the answer's head has arrived (all of the answer,
        if it declares at most WHOLE_ANSWER_BYTES).

        `fields` are the request's header lines (each ending CRLF) but Host, which names
        `endpoint`, and the body's framing. A streamed body is sent chunked unless
        `content_length` is given.
        """
        if isinstance(body, bytes):
            framing = b"Content-Length: %d\r\n" % len(body)
        elif body is None:
            framing = b""
        elif content_length is None:
            framing = b"Transfer-Encoding: chunked\r\n"
        else:
            framing = b"Content-Length: %d\r\n" % content_length
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n" % (
            method.encode(),
            target.encode("utf-8", "surrogateescape"),
            endpoint.authority.encode(),
            fields,
            framing,
        )
        conn = self._idle_connection(endpoint)
        reused = conn is not None
        if conn is None:
            conn = await self._connect(endpoint)
        try:
            answered = conn.begin(head_only=method == "HEAD")
            if isinstance(body, bytes) or body is None:
                await conn.write(head + body if body else head)
            else:
                await conn.write(head)
                await _send_stream(conn, body, chunked=content_length is None)
            self._answers.add(answered)
            try:
                await answered
            finally:
                self._answers.discard(answered)
        except ProtocolError:
            conn._close()
            if reused and not conn.answer_began and not isinstance(body, AsyncIterable):
                # The endpoint dropped an idle connection just as it was reused: nothing
                # was processed, so the request is sent once more on a new connection.
                return await self.send(endpoint, method, target, fields, body)
            raise
        except BaseException:
            conn._close()
            raise
        return UpstreamResponse(self, endpoint, conn)

    def _idle_connection(self, endpoint: Endpoint) -> _Connection | None:
        """A pooled connection to reuse, if one is still fresh."""
        idle = self._idle.get(endpoint.address)
        if idle:
            too_old = time.monotonic() - IDLE_SECONDS
            while idle:
                conn = idle.pop()
                if not conn.closed and conn.idle_since > too_old:
                    return conn
                conn._close()
        return None

    async def _connect(self, endpoint: Endpoint) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    endpoint.host,
                    endpoint.port,
                    ssl=endpoint.scheme == "https" or None,
                )
        except TimeoutError:
            raise UpstreamTimeout(f"connect took over {self.connect_timeout:g}s") from None
        except socket.gaierror as exc:
            raise NameResolutionError(exc.strerror or str(exc)) from None
        except OSError as exc:
            raise ConnectError(exc.strerror or str(exc)) from None
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def forget(self, endpoint: Endpoint) -> None:
        """Close the idle connections to an endpoint that discovery no longer offers."""
        for conn in self._idle.pop(endpoint.address, []):
            conn._close()

    def release(self, endpoint: Endpoint, conn: _Connection) -> None:
        if conn.keep_alive:
            conn.idle_since = time.monotonic()
            self._idle.setdefault(endpoint.address, []).append(conn)
        else:
            conn._close()

    async def close(self) -> None:
        self._answers.close()
        for idle in self._idle.values():
            for conn in idle:
                conn._close()
        self._idle.clear()


async def _send_stream(conn: _Connection, body: AsyncIterable[bytes], *, chunked: bool) -> None:
    async for chunk in body:
        if not chunk:
            continue
        if chunked:
            await conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        else:
            await conn.write(chunk)
    if chunked:
        await conn.write(b"0\r\n\r\n")
