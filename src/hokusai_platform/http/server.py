"""An HTTP/1.1 server: httptools parsing on asyncio, keep-alive, pipelining, limits.

A general-purpose server framework costs more per request than the proxying it carries (see
BENCHMARKS.md), so this one is small: each connection parses with httptools, hands every
request to one handler coroutine, and writes whole answers with one write.

The server refuses some requests itself, as typed errors (`HttpError`) that the `refusal`
it is given turns into an answer (plain text unless told otherwise), after which the
connection closes:
- the request head: a field or the request line over `max_field_bytes` (431, 414), more than
  `MAX_HEADERS` fields (431), malformed syntax (400), a second field of those that must be
  single (`single_fields`), whatever its value (400);
- a body larger than `max_body_bytes` (a chunked upload declares no size) (413);
- a slow client cannot hold a connection: a request head that is not complete within
  `client_timeout` of the connection becoming idle (408); an idle keep-alive connection is
  closed, and so is one whose request body stalls that long, unless the server itself stopped
  reading because the handler is slow to take the body.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httptools

from hokusai_platform.http import fields
from hokusai_platform.http.errors import (
    BadRequest,
    BodyTooLarge,
    ClientDisconnected,
    HeadersTooLarge,
    HttpError,
    RequestTimeout,
    UriTooLong,
)
from hokusai_platform.http.fields import SINGLE_FIELDS, Fields
from hokusai_platform.http.listener import Listener
from hokusai_platform.http.messages import NO_BODY_STATUSES, AnyResponse, Request, Response
from hokusai_platform.http.protocol import BODY, CLOSED, HEAD, IDLE, HttpProtocol

log = logging.getLogger("hokusai.http")

MAX_HEADERS = 100
# How long a connection stays open, reading nothing, after the end of the stream follows an
# answer given before its request's body was read (see `_end_after_answer`).
RESET_AVOIDANCE_SECONDS = 0.5


@dataclass(frozen=True)
class Limits:
    max_field_bytes: int
    max_body_bytes: int
    client_timeout: float

    @property
    def max_head_bytes(self) -> int:
        return max(64 * 1024, 4 * self.max_field_bytes)


Handler = Callable[[Request], Awaitable[AnyResponse]]
Refusal = Callable[[HttpError], Response]


def plain_refusal(error: HttpError) -> Response:
    return Response(
        status=error.status, body=str(error).encode(), content_type="text/plain; charset=utf-8"
    )


class ServerConnection(HttpProtocol):
    """One caller's connection: parses requests and answers them in order."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._limits = server.limits
        timeout = server.limits.client_timeout
        super().__init__(
            server.loop, timeout=timeout, check_every=timeout / 2, registry=server.connections
        )
        self.peer: str | None = None
        self._queue: deque[Request] = deque()
        self._serving: asyncio.Task[None] | None = None
        self._next_request: asyncio.Future[None] | None = None
        self.busy = False  # a request is being answered
        self._response_started = False
        self._latest: Request | None = None  # the request whose head arrived last
        # The head being parsed.
        self._url = b""
        self._headers: Fields = []
        self._head_bytes = 0

    def _new_parser(self) -> Any:
        return httptools.HttpRequestParser(self)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else None
        self.deadline = self.loop.time() + self.timeout  # for the first request's head

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._body is not None:
            self._body.fail(ClientDisconnected("the caller closed the connection"))
        self._queue.clear()
        self._wake_server()

    def _parse(self, data: bytes) -> None:
        try:
            if self.state is HEAD:  # the parser buffers a head until it is complete: bound it
                self._head_bytes += len(data)
                if self._head_bytes > self._limits.max_head_bytes:
                    raise HeadersTooLarge("the request head is too large")
            self._parser.feed_data(data)
        except HttpError as refused:
            self._refuse(refused)
        except httptools.HttpParserUpgrade:
            # Nothing is upgraded: the request is answered, then the connection closes.
            if self._latest is not None:
                self._latest.keep_alive = False
            self.stop_reading()
        except httptools.HttpParserCallbackError as exc:
            # httptools wraps what a callback raised; the limits raise HttpError.
            cause = exc.__context__
            if not isinstance(cause, HttpError):
                raise
            self._refuse(cause)
        except httptools.HttpParserError as exc:
            self._refuse(BadRequest(_parser_message(exc)))

    def write(self, data: bytes) -> None:
        if self.state is not CLOSED and self.transport is not None:
            self._response_started = True
            self.transport.write(data)

    def _closed_error(self) -> Exception:
        return ClientDisconnected("the caller closed the connection")

    def timed_out(self) -> None:
        if self.state is HEAD:
            self._refuse(RequestTimeout("the request head took too long"))
            return
        if self.state is BODY and self._latest is not None:
            log.warning(
                "request body stalled; connection closed", extra={"path": self._latest.path}
            )
        self.close()  # a stalled body, or an idle keep-alive connection

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.state = HEAD
        self._url = b""
        self._headers = []
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_field_bytes:
            raise UriTooLong("the request target is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        # Checked once here, in C: the head's size bounds the fields until then.
        headers = self._headers
        if len(headers) > MAX_HEADERS:
            raise HeadersTooLarge(f"more than {MAX_HEADERS} request headers")
        if headers and max(map(len, map(b"".join, headers))) > self._limits.max_field_bytes:
            raise HeadersTooLarge("a request header is too large")
        parser = self._parser
        request = Request(
            self,
            self.peer,
            parser.get_method().decode("ascii"),
            self._url.decode("utf-8", "surrogateescape"),
            parser.get_http_version(),
            headers,
            parser.should_keep_alive(),
        )
        repeated = fields.repeated(request.field_names, self._server.single_fields)
        if repeated is not None:
            raise BadRequest(f"the request has more than one {repeated.decode().title()} field")
        limit = self._limits.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        self.state = BODY
        self._latest = request
        # While the handler answers, only a body arriving too slowly can time out.
        if request.body is None:
            self.deadline, self._length = None, None
        else:
            self._body, self._length, self._received = request.body, request.content_length, 0
            self.deadline = self.loop.time() + self.timeout
        self._queue.append(request)
        if self._serving is None:
            self._serving = self.loop.create_task(self._serve())
        else:
            self._wake_server()

    def on_body(self, data: bytes) -> None:
        limit = self._limits.max_body_bytes
        if self._received + len(data) > limit:
            log.warning("request body over the limit; connection closed")
            if self._body is not None:
                self._body.fail(ClientDisconnected("request body over the limit"))
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        super().on_body(data)

    def on_message_complete(self) -> None:
        self.state = IDLE
        self.deadline = None
        body, self._body = self._body, None
        if body is not None:
            body.finish()

    # Used by the server.

    @property
    def serving(self) -> asyncio.Task[None] | None:
        """The task answering this connection's requests, for as long as it is open."""
        return self._serving

    @property
    def idle(self) -> bool:
        """Waiting for a request, none of which has begun to arrive."""
        return not self.busy and not self._queue and self.state is not HEAD

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
            while self.state is not CLOSED:
                if not self._queue:
                    if self._server.stopping:
                        break
                    if self.deadline is None:  # the next request's head is due from now
                        self.deadline = self.loop.time() + self.timeout
                    self._next_request = self.loop.create_future()
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
                if not request.keep_alive:
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
            head = response.head(keep_alive)
            self.write(head if head_only else head + response.body)
        elif not response.prepared:
            raise RuntimeError("a StreamResponse must be prepared by its handler")
        else:
            response.finish()

    def _refuse(self, error: HttpError) -> None:
        """Answer a request the server itself refuses, then close the connection.

        The answer goes out unless one has begun for the request being answered; whatever
        its handler answers later finds the connection closed."""
        if not (self.busy and self._response_started) and self.state is not CLOSED:
            response = self._server.refusal(error)
            self.write(response.head(keep_alive=False) + response.body)
        self.close()

    def _end_after_answer(self) -> None:
        """End the connection after an answer given while the caller may still be sending.

        Closing at once, the caller's bytes unread, resets the connection, and the reset can
        destroy the answer before the caller reads it. So the end of the stream follows the
        answer, reading stops, and the connection closes a moment later, as Go's net/http does.
        """
        transport = self.transport
        if self.state is CLOSED or transport is None:
            return
        self.stop_reading()
        self.state = CLOSED  # nothing more is read or written
        transport.write_eof()
        self.loop.call_later(RESET_AVOIDANCE_SECONDS, transport.close)

    def _wake_server(self) -> None:
        waiter, self._next_request = self._next_request, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _parser_message(exc: httptools.HttpParserError) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else "malformed request"
    return f"malformed request ({text})"


class Server:
    """Serves `handler` on listening sockets; stops gracefully."""

    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        *,
        refusal: Refusal = plain_refusal,
        single_fields: Sequence[bytes] = SINGLE_FIELDS,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.refusal = refusal
        self.single_fields = single_fields
        self.loop = asyncio.get_running_loop()
        self.connections: set[ServerConnection] = set()
        self.stopping = False
        self._listeners: list[Listener] = []

    def listen(self, sock: socket.socket) -> None:
        """Accept connections on `sock`, a bound and listening socket (see `Listener`)."""
        self._listeners.append(Listener(self.loop, sock, lambda: ServerConnection(self)))

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
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
