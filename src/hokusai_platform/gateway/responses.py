"""The gateway's answers: whole (`Response`, one write) or streamed (`StreamResponse`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

from multidict import CIMultiDict

if TYPE_CHECKING:
    from hokusai_platform.gateway.http import Request

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
NO_BODY_STATUSES = frozenset((204, 304))


class ClientDisconnected(ConnectionError):
    """The caller went away while its request was being answered."""


class Response:
    """A whole answer, written with one write: the gateway's own (`headers`) or a proxied one
    (`fields`: the upstream's header lines, its Content-Length among them)."""

    __slots__ = ("body", "fields", "headers", "status")
    prepared = False

    def __init__(
        self,
        *,
        status: int = 200,
        body: bytes = b"",
        headers: CIMultiDict[str] | None = None,
        content_type: str | None = None,
        fields: bytes | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.fields = fields
        self.headers: CIMultiDict[str] = headers if headers is not None else CIMultiDict()
        if content_type is not None:
            self.headers["Content-Type"] = content_type

    @property
    def body_length(self) -> int:
        return len(self.body)

    def head(self, gateway_set: Sequence[tuple[str, str]], keep_alive: bool) -> bytes:
        """The status line and header block, with the fields the gateway sets on every answer.

        A proxied answer's fields go out as they arrived: its body was read to exactly the
        length they state (the upstream client's parser refuses a second Content-Length, or
        one beside Transfer-Encoding)."""
        if self.fields is not None:
            return encode_head(self.status, self.fields + header_lines(gateway_set), keep_alive)
        for name, value in gateway_set:
            self.headers[name] = value
        length = b"Content-Length: %d\r\n" % len(self.body)
        return encode_head(self.status, header_lines(self.headers.items()) + length, keep_alive)


def json_response(data: object, *, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(data).encode(), content_type="application/json")


class StreamResponse:
    """A proxied answer whose body is written piece by piece, with back-pressure."""

    def __init__(self, *, status: int, fields: bytes, length: int | None) -> None:
        self.status = status
        self.fields = fields
        self.length = length  # stated in `fields`; None: the body is sent chunked
        self.prepared = False
        self.body_length = 0
        self._request: Request | None = None
        self._chunked = False
        self._finished = False

    async def prepare(self, request: Request) -> None:
        """Send the status line and headers."""
        self._request = request
        self.prepared = True
        lines = self.fields + header_lines(request.response_headers)
        has_body = request.method != "HEAD" and self.status not in NO_BODY_STATUSES
        if has_body and self.length is None:
            if request.http_version == "1.1":
                self._chunked = True
                lines += b"Transfer-Encoding: chunked\r\n"
            else:
                request.keep_alive = False  # HTTP/1.0: the body ends with the connection
        request.connection.write(encode_head(self.status, lines, request.keep_alive))
        await request.connection.drain()

    async def write(self, data: bytes) -> None:
        assert self._request is not None, "prepare() first"
        connection = self._request.connection
        if connection.closed:
            raise ClientDisconnected("the caller closed the connection")
        if data:
            self.body_length += len(data)
            connection.write(b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data)
            await connection.drain()

    def finish(self) -> None:
        """End the body (the server calls this once the handler returns)."""
        if self._request is not None and not self._finished:
            self._finished = True
            if self._chunked:
                self._request.connection.write(b"0\r\n\r\n")


AnyResponse = Response | StreamResponse


class _Date:
    """The Date header's value, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = 0
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second, self._value = now, formatdate(now, usegmt=True).encode()
        return self._value


_date = _Date()


def header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    """Header lines, each ending CRLF."""
    text = "".join([f"{name}: {value}\r\n" for name, value in headers])
    return text.encode("utf-8", "surrogateescape")


def encode_head(status: int, lines: bytes, keep_alive: bool) -> bytes:
    """The status line, `lines` (each ending CRLF), the Date, and the blank line.

    The gateway dates every answer it sends, proxied ones too (as nginx does).
    """
    return b"HTTP/1.1 %d %s\r\n%sDate: %s\r\n%s\r\n" % (
        status,
        _REASONS.get(status, b"Unknown"),
        lines,
        _date(),
        b"" if keep_alive else b"Connection: close\r\n",
    )
