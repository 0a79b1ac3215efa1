"""The gateway's answers: whole (`Response`, one write) or streamed (`StreamResponse`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

from multidict import CIMultiDict

if TYPE_CHECKING:
    from hokusai_platform.gateway.http import Request

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
NO_BODY_STATUSES = frozenset((204, 304))

# Header fields passed on as they arrived on the wire: a proxied answer's.
Fields = Sequence[tuple[bytes, bytes]]


class ClientDisconnected(ConnectionError):
    """The caller went away while its request was being answered."""


class Response:
    """A whole answer, written with one write: the gateway's own (`headers`) or a proxied one
    (`fields`, plus the `headers` the gateway sets on every answer)."""

    __slots__ = ("body", "fields", "headers", "status")
    prepared = False

    def __init__(
        self,
        *,
        status: int = 200,
        body: bytes = b"",
        headers: CIMultiDict[str] | None = None,
        content_type: str | None = None,
        fields: Fields = (),
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


def json_response(data: object, *, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(data).encode(), content_type="application/json")


class StreamResponse:
    """A proxied answer whose body is written piece by piece, with back-pressure."""

    def __init__(self, *, status: int, fields: Fields) -> None:
        self.status = status
        self.fields = fields
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.prepared = False
        self.body_length = 0
        self._request: Request | None = None
        self._chunked = False
        self._finished = False

    async def prepare(self, request: Request) -> None:
        """Send the status line and headers."""
        self._request = request
        self.prepared = True
        for name, value in request.response_headers:
            self.headers[name] = value
        has_body = request.method != "HEAD" and self.status not in NO_BODY_STATUSES
        if has_body and not any(name.lower() == b"content-length" for name, _ in self.fields):
            if request.http_version == "1.1":
                self._chunked = True
                self.headers["Transfer-Encoding"] = "chunked"
            else:
                request.keep_alive = False  # HTTP/1.0: the body ends with the connection
        request.connection.write(
            encode_head(self.status, self.headers, None, request.keep_alive, self.fields)
        )
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


def encode_head(
    status: int,
    headers: CIMultiDict[str],
    length: int | None,
    keep_alive: bool,
    fields: Fields = (),
) -> bytes:
    """The status line and header block, ending with the blank line.

    `fields` come first, as they are; then `headers`. A `length` given is the body's real
    one and replaces any Content-Length in either.
    """
    if length is not None and "Content-Length" in headers:
        del headers["Content-Length"]
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Unknown"))]
    dated = "Date" in headers
    for name, value in fields:
        lowered = name.lower()
        if lowered == b"content-length" and length is not None:
            continue
        dated = dated or lowered == b"date"
        lines.append(b"%s: %s" % (name, value))
    if headers:
        text = "\r\n".join([f"{name}: {value}" for name, value in headers.items()])
        lines.append(text.encode("utf-8", "surrogateescape"))
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    if not dated:
        lines.append(b"Date: " + _date())
    if not keep_alive:
        lines.append(b"Connection: close")
    lines.append(b"\r\n")
    return b"\r\n".join(lines)
