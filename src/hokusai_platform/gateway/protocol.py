"""The HTTP server's own limits, and JSON for the errors aiohttp answers by itself.

Requests that never reach the gateway's handler (a header line over the size limit, CRLF
inside a header, a malformed request line) are answered by aiohttp's protocol handler in
plain text; here they get the same JSON shape as every other error. Headers are bounded in
size and count. A slow client cannot hold a connection (and, through it, one of MLflow's
workers): a request whose headers do not arrive within the client timeout is dropped (this
also closes idle keep-alive connections), and so is a request whose body stalls that long,
unless the gateway itself stopped reading because MLflow is slow to take the body. A body
that grows past the largest allowed size (a chunked upload declares none) is cut off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from hokusai_platform.gateway import errors
from hokusai_platform.settings import Settings

log = logging.getLogger("hokusai.protocol")

MAX_HEADERS = 100
HEADERS_TOO_LARGE = "REQUEST_HEADER_FIELDS_TOO_LARGE"


class JSONErrorRequestHandler(RequestHandler):
    def __init__(
        self, manager: web.Server, *, body_timeout: float, max_body_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._body_timeout = body_timeout
        self._max_body_bytes = max_body_bytes
        self._counted: web.BaseRequest | None = None
        self._body_bytes = 0
        self._last_data = 0.0
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._last_data = self._loop.time()
        self._watchdog = self._loop.call_later(self._body_timeout / 2, self._check_body)

    def data_received(self, data: bytes) -> None:
        self._last_data = self._loop.time()
        request = self._current_request
        if request is not None:  # a body (a request exists once its headers are in)
            if request is not self._counted:
                self._counted, self._body_bytes = request, 0
            self._body_bytes += len(data)
            if self._body_bytes > self._max_body_bytes and self.transport is not None:
                # A chunked upload declares no size: cut it off once it passes the limit.
                log.warning("request body over the limit; connection closed")
                self.transport.close()
                return
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        super().connection_lost(exc)

    def _check_body(self) -> None:
        now = self._loop.time()
        if self._reading_paused:  # back-pressure from MLflow, not a slow client
            self._last_data = now
        request = self._current_request
        if (
            request is not None
            and not request.content.is_eof()
            and now - self._last_data > self._body_timeout
            and self.transport is not None
        ):
            log.warning("request body stalled; connection closed", extra={"path": request.path})
            self.transport.close()
            return
        self._watchdog = self._loop.call_later(self._body_timeout / 2, self._check_body)

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
    """aiohttp's low-level server, with JSON protocol errors and a stalled-body timeout."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        body_timeout: float,
        max_body_bytes: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._body_timeout = body_timeout
        self._max_body_bytes = max_body_bytes

    def __call__(self) -> RequestHandler:
        return JSONErrorRequestHandler(
            self,
            loop=self._loop,
            body_timeout=self._body_timeout,
            max_body_bytes=self._max_body_bytes,
            **self._kwargs,
        )


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
        body_timeout=settings.client_timeout,
        # Declared sizes are checked per route by the Guard; this bounds undeclared ones.
        max_body_bytes=max(settings.max_artifact_bytes, settings.max_json_body_bytes),
    )
