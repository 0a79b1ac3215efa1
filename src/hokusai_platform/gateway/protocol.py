"""The HTTP server's own limits, and JSON for the errors aiohttp answers by itself.

Requests that never reach the gateway's handler (a header line over the size limit, CRLF
inside a header, a malformed request line) are answered by aiohttp's protocol handler in
plain text; here they get the same JSON shape as every other error. Headers are bounded in
size and count, and a connection that does not finish sending a request within the client
timeout (a slowloris) is closed; the same timeout closes idle keep-alive connections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from hokusai_platform.gateway import errors
from hokusai_platform.settings import Settings

MAX_HEADERS = 100
HEADERS_TOO_LARGE = "REQUEST_HEADER_FIELDS_TOO_LARGE"


class JSONErrorRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # The parent logs, and refuses when part of a response has already gone out.
        super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            response = errors.json_error(431, HEADERS_TOO_LARGE, "a request header is too large")
        elif status < 500:
            reason = (message or str(exc or "") or "malformed request").strip().splitlines()[0]
            response = errors.json_error(status, errors.error_code_for(status), reason)
        else:
            response = errors.json_error(500, errors.INTERNAL_ERROR, "internal error")
        response.force_close()
        return response


class Server(web.Server):
    """aiohttp's low-level server, with JSON protocol errors."""

    def __call__(self) -> RequestHandler:
        return JSONErrorRequestHandler(self, loop=self._loop, **self._kwargs)


def server(
    handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]], settings: Settings
) -> Server:
    return Server(
        handler,
        access_log=None,
        max_line_size=settings.max_header_bytes,
        max_field_size=settings.max_header_bytes,
        max_headers=MAX_HEADERS,
        keepalive_timeout=settings.client_timeout,
    )
