"""The server's messages: a `Request` as its handler sees it, and the answers it gives, whole
(`Response`, one write) or streamed (`StreamResponse`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

from multidict import CIMultiDict

from hokusai_platform.http.errors import ClientDisconnected
from hokusai_platform.http.fields import Fields, header_lines, lowered_names
from hokusai_platform.http.protocol import CLOSED, Body, HttpProtocol

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
NO_BODY_STATUSES = frozenset((204, 304))
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


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
        "remote",
    )

    def __init__(
        self,
        connection: HttpProtocol,
        remote: str | None,
        method: str,
        raw_path: str,
        http_version: str,
        raw_headers: Fields,
        keep_alive: bool,
    ) -> None:
        self.connection = connection
        self.remote = remote  # the caller's address
        self.method = method
        self.raw_path = raw_path
        self.http_version = http_version
        self.raw_headers = raw_headers  # as they arrived, for forwarding byte for byte
        self.field_names = lowered_names(raw_headers)
        self._headers: CIMultiDict[str] | None = None
        self.keep_alive = keep_alive
        path, _, self.query_string = raw_path.partition("?")
        self.path = unquote(path) if "%" in path else path
        # The parser refused a second Content-Length, or one beside Transfer-Encoding.
        names = self.field_names
        if b"content-length" in names:
            self.content_length: int | None = int(raw_headers[names.index(b"content-length")][1])
            self.body = Body(connection) if self.content_length else None
        else:
            self.content_length = None
            self.body = Body(connection) if b"transfer-encoding" in names else None

    def field(self, name: bytes) -> bytes | None:
        """The first value of a header field (`name` in lower case), as it arrived."""
        names = self.field_names
        return self.raw_headers[names.index(name)][1] if name in names else None

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

    def send_continue(self) -> None:
        """Before reading the body: say `100 Continue` if the caller waits for it to send."""
        expect = self.field(b"expect")
        if self.http_version == "1.1" and expect and b"100-continue" in expect.lower():
            self.connection.write(_CONTINUE)

    def abort(self) -> None:
        """Close the connection: a truncated body must not look complete."""
        self.connection.close()


class Response:
    """A whole answer, written with one write: made here (`headers`) or relayed (`fields`:
    another server's header lines, its Content-Length among them), with `extra` fields
    either way."""

    __slots__ = ("body", "extra", "fields", "headers", "status")
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
        self.extra: Sequence[tuple[str, str]] = ()
        self.headers: CIMultiDict[str] = headers if headers is not None else CIMultiDict()
        if content_type is not None:
            self.headers["Content-Type"] = content_type

    @property
    def body_length(self) -> int:
        return len(self.body)

    def head(self, keep_alive: bool) -> bytes:
        """The status line and header block; `extra` fields replace those of their names.

        Relayed fields go out as they arrived: the body was read to exactly the length they
        state (the client's parser refuses a second Content-Length, or one beside
        Transfer-Encoding)."""
        if self.fields is not None:
            return encode_head(self.status, self.fields + header_lines(self.extra), keep_alive)
        for name, value in self.extra:
            self.headers[name] = value
        length = b"Content-Length: %d\r\n" % len(self.body)
        return encode_head(self.status, header_lines(self.headers.items()) + length, keep_alive)


def json_response(data: object, *, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(data).encode(), content_type="application/json")


class StreamResponse:
    """A relayed answer whose body is written piece by piece, with back-pressure."""

    def __init__(self, *, status: int, fields: bytes, length: int | None) -> None:
        self.status = status
        self.fields = fields
        self.length = length  # stated in `fields`; None: the body is sent chunked
        self.prepared = False
        self.body_length = 0
        self._request: Request | None = None
        self._chunked = False
        self._finished = False

    async def prepare(self, request: Request, extra: Sequence[tuple[str, str]] = ()) -> None:
        """Send the status line and headers, `extra` fields after the relayed ones."""
        self._request = request
        self.prepared = True
        lines = self.fields + header_lines(extra)
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
        if connection.state is CLOSED:
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


def encode_head(status: int, lines: bytes, keep_alive: bool) -> bytes:
    """The status line, `lines` (each ending CRLF), the Date, and the blank line.

    Every answer is dated, relayed ones too (as nginx does)."""
    return b"HTTP/1.1 %d %s\r\n%sDate: %s\r\n%s\r\n" % (
        status,
        _REASONS.get(status, b"Unknown"),
        lines,
        _date(),
        b"" if keep_alive else b"Connection: close\r\n",
    )
