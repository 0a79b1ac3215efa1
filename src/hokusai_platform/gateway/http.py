"""The gateway's HTTP/1.1 server: httptools parsing on asyncio, keep-alive, limits, JSON errors.

A general-purpose server framework costs more per request than the proxying it carries (see
BENCHMARKS.md), so the gateway speaks HTTP itself: each connection parses with httptools,
hands every request to one handler coroutine, and writes whole answers with one write.

Every answer, including the server's own refusals, is JSON in MLflow's shape. The limits:
- the request head: a field or the request line over `max_field_bytes` gets 431 (or 414),
  more than `MAX_HEADERS` fields 431, malformed syntax 400, and so does a second field of
  those that must be single (`headers.SINGLE_FIELDS`), whatever its value;
- a body larger than `max_body_bytes` (a chunked upload declares no size) gets 413 and the
  connection is closed;
- a slow client cannot hold a connection (and, through it, one of MLflow's workers): a request
  head that is not complete within `client_timeout` of the connection becoming idle gets 408,
  an idle keep-alive connection is closed, and so is a request whose body stalls that long,
  unless the gateway itself stopped reading because MLflow is slow to take the body.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import cast
from urllib.parse import unquote

import httptools
from multidict import CIMultiDict

from hokusai_platform.gateway import errors
from hokusai_platform.gateway.headers import first_value, repeated_single_field
from hokusai_platform.gateway.responses import (
    NO_BODY_STATUSES,
    AnyResponse,
    ClientDisconnected,
    Response,
)

log = logging.getLogger("hokusai.http")

MAX_HEADERS = 100
HEADERS_TOO_LARGE = "REQUEST_HEADER_FIELDS_TOO_LARGE"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
# Reading from the caller pauses once this much of a request body waits for the handler.
BODY_BUFFER_HIGH = 256 * 1024
BODY_BUFFER_LOW = 64 * 1024
# How long a connection stays open, reading nothing, after the end of the stream follows an
# answer given before its request's body was read (see `_end_after_answer`).
RESET_AVOIDANCE_SECONDS = 0.5
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True)
class Limits:
    max_field_bytes: int
    max_body_bytes: int
    client_timeout: float

    @property
    def max_head_bytes(self) -> int:
        return max(64 * 1024, 4 * self.max_field_bytes)


class RequestBody:
    """A request body as it arrives, with back-pressure on the caller's connection."""

    def __init__(self, connection: HttpConnection) -> None:
        self.connection = connection
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def is_eof(self) -> bool:
        return self._complete and not self._chunks

    async def chunks(self) -> AsyncIterator[bytes]:
        """Each piece of the body as it arrives, until its end."""
        while True:
            while not self._chunks:
                if self._error is not None:
                    raise self._error
                if self._complete:
                    return
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter
            chunk = self._chunks.popleft()
            self._buffered -= len(chunk)
            if self._buffered < BODY_BUFFER_LOW:
                self.connection.resume_body()
            yield chunk

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > BODY_BUFFER_HIGH:
            self.connection.pause_body()
        self._wake()

    def _finish(self) -> None:
        self._complete = True
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if not self._complete:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Request:
    """What the handler sees of one request."""

    __slots__ = (
        "_headers",
        "body",
        "connection",
        "content_length",
        "field_names",
        "http_version",
        "keep_alive",
        "method",
        "path",
        "query_string",
        "raw_headers",
        "raw_path",
        "response_headers",
        "upstream",
    )

    def __init__(
        self,
        connection: HttpConnection,
        method: str,
        raw_path: str,
        http_version: str,
        raw_headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> None:
        self.connection = connection
        self.method = method
        self.raw_path = raw_path
        self.http_version = http_version
        self.raw_headers = raw_headers  # as they arrived, for forwarding byte for byte
        # Lowered in C, not by a comprehension's ten bytecodes a field: every request pays it.
        self.field_names = list(map(bytes.lower, map(itemgetter(0), raw_headers)))
        self._headers: CIMultiDict[str] | None = None
        self.keep_alive = keep_alive
        path, _, self.query_string = raw_path.partition("?")
        self.path = unquote(path) if "%" in path else path
        # The parser refused a second Content-Length, or one beside Transfer-Encoding.
        length = self.field(b"content-length")
        self.content_length = int(length) if length is not None else None
        chunked = b"transfer-encoding" in self.field_names
        self.body = RequestBody(connection) if chunked or self.content_length else None
        self.upstream: str | None = None  # the endpoint that answered, for the access log
        # Set on whatever answers the request, whole or streamed (request id, rate limit).
        self.response_headers: list[tuple[str, str]] = []

    def field(self, name: bytes) -> bytes | None:
        """The first value of a header field (`name` in lower case), as it arrived."""
        return first_value(self.raw_headers, self.field_names, name)

    @property
    def headers(self) -> CIMultiDict[str]:
        """Every header field, decoded; made when first asked for (a proxied request may
        need none but the few `field` finds)."""
        if self._headers is None:
            self._headers = CIMultiDict(
                (name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
                for name, value in self.raw_headers
            )
        return self._headers

    @property
    def body_unread(self) -> bool:
        """Part of the body was never read: the next request cannot be found after it."""
        return self.body is not None and not self.body.is_eof()

    @property
    def host(self) -> str:
        return (self.field(b"host") or b"").decode("latin-1")

    @property
    def remote(self) -> str | None:
        return self.connection.peer

    async def send_continue(self) -> None:
        """Answer `Expect: 100-continue` before reading the body."""
        self.connection.write(_CONTINUE)

    def abort(self) -> None:
        """Close the connection: a truncated body must not look complete."""
        self.connection.close()


Handler = Callable[[Request], Awaitable[AnyResponse]]


class _HeadRefused(Exception):
    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.response = errors.json_error(status, error_code, message)


class HttpConnection(asyncio.Protocol):
    """One caller's connection: parses requests and answers them in order."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = server.loop
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: str | None = None
        self.closed = False
        self._queue: deque[Request] = deque()
        self._serving: asyncio.Task[None] | None = None
        self._next_request: asyncio.Future[None] | None = None
        self.busy = False  # a request is being answered
        self._response_started = False
        self._reading: Request | None = None  # the request whose body is arriving
        self._latest: Request | None = None  # the request whose head arrived last
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._body_bytes = 0
        self._body_left = 0  # bytes of a declared-length body still to come, past the parser
        self._began = False
        self._upgrade = False
        self._idle_since: float | None = None  # waiting for a request head since
        self._last_data = 0.0
        self._body_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else None
        self._idle_since = self._last_data = self._loop.time()
        self._watchdog = self._loop.call_later(self._limits.client_timeout / 2, self._watch)
        self._server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._last_data = self._loop.time()
        if self._body_left:
            data = self._take_body(data)
            if not data:
                return
        try:
            if self._began:  # the parser buffers a head until it is complete: bound it
                self._head_bytes += len(data)
                if self._head_bytes > self._limits.max_head_bytes:
                    raise _HeadRefused(431, HEADERS_TOO_LARGE, "the request head is too large")
            self._parser.feed_data(data)
        except _HeadRefused as refused:
            self._refuse(refused.response)
        except httptools.HttpParserUpgrade:
            # The gateway upgrades nothing: the request is answered, then the connection closes.
            self._upgrade = True
            if self._latest is not None:
                self._latest.keep_alive = False
            self._pause_reading()
        except httptools.HttpParserCallbackError as exc:
            # httptools wraps what a callback raised; the limits raise _HeadRefused.
            cause = exc.__context__
            if not isinstance(cause, _HeadRefused):
                raise
            self._refuse(cause.response)
        except httptools.HttpParserError as exc:
            self._refuse(errors.json_error(400, errors.BAD_REQUEST, _parser_message(exc)))
        else:
            reading = self._reading
            if reading is not None and reading.body is not None and reading.content_length:
                # The rest of a body of declared length is taken as it arrives, without the
                # parser's copy of every piece (uploads are artifacts, and large).
                self._body_left = reading.content_length - self._body_bytes

    def _take_body(self, data: bytes) -> bytes:
        """Feed the body what belongs to it; return what follows it (a pipelined request)."""
        # Slicing copies nothing when the body takes all of `data` (the common case).
        piece, rest = data[: self._body_left], data[self._body_left :]
        self._body_left -= len(piece)
        self._body_bytes += len(piece)
        request = self._reading
        if request is not None and request.body is not None:
            request.body._feed(piece)
        if not self._body_left:
            self.on_message_complete()
            self._parser = httptools.HttpRequestParser(self)  # the old one is mid-body
        return rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._server.connections.discard(self)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._reading is not None and self._reading.body is not None:
            self._reading.body._fail(ClientDisconnected("the caller closed the connection"))
        self._queue.clear()
        self._wake_writer()
        self._wake_server()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._began = True
        self._url = b""
        self._headers = []
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_field_bytes:
            raise _HeadRefused(414, errors.BAD_REQUEST, "the request target is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > self._limits.max_field_bytes:
            raise _HeadRefused(431, HEADERS_TOO_LARGE, "a request header is too large")
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        # Counted once here: the head's size bounds the list until then.
        if len(self._headers) > MAX_HEADERS:
            raise _HeadRefused(431, HEADERS_TOO_LARGE, f"more than {MAX_HEADERS} request headers")
        self._began = False
        self._idle_since = None
        parser = self._parser
        request = Request(
            self,
            parser.get_method().decode("ascii"),
            self._url.decode("utf-8", "surrogateescape"),
            parser.get_http_version(),
            self._headers,
            parser.should_keep_alive(),
        )
        if (repeated := repeated_single_field(request.field_names)) is not None:
            raise _HeadRefused(
                400,
                errors.BAD_REQUEST,
                f"the request has more than one {repeated.decode().title()} field",
            )
        limit = self._limits.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _HeadRefused(
                413, errors.REQUEST_TOO_LARGE, f"request body exceeds the limit of {limit} bytes"
            )
        self._reading = self._latest = request
        self._body_bytes = 0
        self._queue.append(request)
        if self._serving is None:
            self._serving = self._loop.create_task(self._serve())
        else:
            self._wake_server()

    def on_body(self, data: bytes) -> None:
        request = self._reading
        if request is None or request.body is None:
            return
        self._body_bytes += len(data)
        if self._body_bytes > self._limits.max_body_bytes:
            log.warning("request body over the limit; connection closed")
            request.body._fail(ClientDisconnected("request body over the limit"))
            limit = self._limits.max_body_bytes
            raise _HeadRefused(
                413, errors.REQUEST_TOO_LARGE, f"request body exceeds the limit of {limit} bytes"
            )
        request.body._feed(data)

    def on_message_complete(self) -> None:
        request, self._reading = self._reading, None
        if request is not None and request.body is not None:
            request.body._finish()

    # Used by requests and responses.

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self._response_started = True
            self.transport.write(data)

    async def drain(self) -> None:
        if self.closed:
            raise ClientDisconnected("the caller closed the connection")
        if self._write_paused:
            self._drain_waiter = self._loop.create_future()
            await self._drain_waiter
            if self.closed:
                raise ClientDisconnected("the caller closed the connection")

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def pause_body(self) -> None:
        if not self._body_paused:
            self._body_paused = True
            self._pause_reading()

    def resume_body(self) -> None:
        if self._body_paused:
            self._body_paused = False
            if not self.closed and self.transport is not None and not self._upgrade:
                self.transport.resume_reading()

    @property
    def serving(self) -> asyncio.Task[None] | None:
        """The task answering this connection's requests, for as long as it is open."""
        return self._serving

    @property
    def idle(self) -> bool:
        """Waiting for a request, none of which has begun to arrive."""
        return not self.busy and not self._queue and not self._began

    def close_after_answer(self) -> None:
        """The request being answered (or the last that arrived) says `Connection: close`,
        unless its head has gone already, and the connection closes after its answer."""
        if self._latest is not None:
            self._latest.keep_alive = False

    # Internals.

    async def _serve(self) -> None:
        """Answer requests in order (pipelined ones wait their turn) until the connection ends.

        One task per connection, not per request: a keep-alive connection's next request
        costs a future, not a task."""
        try:
            while not self.closed:
                if not self._queue:
                    if self._server.stopping:
                        break
                    if self._idle_since is None:
                        self._idle_since = self._loop.time()
                    self._next_request = self._loop.create_future()
                    await self._next_request
                    continue
                request = self._queue.popleft()
                self.busy, self._response_started = True, False
                response = await self._server.handler(request)
                self._finish(request, response)
                self.busy = False
                if request.body_unread:
                    # An unread body would have to be read to find the next request: ending the
                    # connection is cheaper and leaves nothing ambiguous.
                    self._end_after_answer()
                    break
                if not request.keep_alive or self._upgrade:
                    break
        except ClientDisconnected:
            pass
        except Exception:
            log.exception("failed to answer a request")
        finally:
            self.busy = False
            self.close()

    def _finish(self, request: Request, response: AnyResponse) -> None:
        if isinstance(response, Response):
            keep_alive = request.keep_alive and not request.body_unread
            request.keep_alive = keep_alive
            head_only = request.method == "HEAD" or response.status in NO_BODY_STATUSES
            head = response.head(request.response_headers, keep_alive)
            self.write(head if head_only else head + response.body)
        elif not response.prepared:
            raise RuntimeError("a StreamResponse must be prepared by its handler")
        else:
            response.finish()

    def _refuse(self, response: Response) -> None:
        """Answer a request the server itself refuses, then close the connection.

        The answer goes out unless one has begun for the request being answered; whatever
        its handler answers later finds the connection closed."""
        if not (self.busy and self._response_started) and not self.closed:
            self.write(response.head((), keep_alive=False) + response.body)
        self.close()

    def _end_after_answer(self) -> None:
        """End the connection after an answer given while the caller may still be sending.

        Closing at once, the caller's bytes unread, resets the connection, and the reset can
        destroy the answer before the caller reads it. So the end of the stream follows the
        answer, reading stops, and the connection closes a moment later, as Go's net/http does.
        """
        transport = self.transport
        if self.closed or transport is None:
            return
        self._pause_reading()
        self.closed = True  # nothing more is read or written
        transport.write_eof()
        self._loop.call_later(RESET_AVOIDANCE_SECONDS, transport.close)

    def _pause_reading(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.pause_reading()

    def _wake_server(self) -> None:
        waiter, self._next_request = self._next_request, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _watch(self) -> None:
        if self.closed:
            return
        now = self._loop.time()
        timeout = self._limits.client_timeout
        if self._body_paused:  # back-pressure from MLflow, not a slow client
            self._last_data = now
        if self._idle_since is not None and now - self._idle_since > timeout:
            if self._began:
                self._refuse(
                    errors.json_error(408, REQUEST_TIMEOUT, "the request head took too long")
                )
            else:
                self.close()  # an idle keep-alive connection
            return
        if self._reading is not None and now - self._last_data > timeout:
            log.warning(
                "request body stalled; connection closed", extra={"path": self._reading.path}
            )
            self.close()
            return
        self._watchdog = self._loop.call_later(timeout / 2, self._watch)


def _parser_message(exc: httptools.HttpParserError) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else "malformed request"
    return f"malformed request ({text})"


class HttpServer:
    """Serves `handler` on listening sockets; stops gracefully."""

    def __init__(self, handler: Handler, limits: Limits) -> None:
        self.handler = handler
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.connections: set[HttpConnection] = set()
        self.stopping = False
        self._servers: list[asyncio.Server] = []

    async def listen(self, **kwargs: object) -> None:
        """Accept connections: `sock=` a bound socket, or `host=`/`port=` (and `reuse_port=`)."""
        server = await self.loop.create_server(lambda: HttpConnection(self), **kwargs)  # type: ignore[call-overload]
        self._servers.append(server)

    async def stop(self, grace: float) -> None:
        """Stop accepting; requests in progress get up to `grace` s to finish, and what
        arrives meanwhile on an open connection is answered too. Every answer from now on says
        `Connection: close`. Once none is in progress, every connection closes (idle
        keep-alive ones with it)."""
        self._stop_accepting()
        handler = self.handler

        async def last_call(request: Request) -> AnyResponse:
            request.keep_alive = False
            return await handler(request)

        # Swapped once rather than checked on every request: the hot path pays nothing for it.
        self.handler = last_call
        for connection in self.connections:
            connection.close_after_answer()
        deadline = self.loop.time() + grace
        try:
            while (left := deadline - self.loop.time()) > 0:
                answering = [
                    c.serving for c in self.connections if c.serving is not None and not c.idle
                ]
                if not answering:
                    break
                await asyncio.wait(answering, timeout=left)
        finally:
            self.close()

    def close(self) -> None:
        """Stop accepting and close every connection now."""
        self._stop_accepting()
        for connection in list(self.connections):
            connection.close()

    def _stop_accepting(self) -> None:
        self.stopping = True
        for server in self._servers:
            server.close()
