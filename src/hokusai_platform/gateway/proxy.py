"""The streaming reverse proxy: `/api/mlflow/<path>` → MLflow `/<path>`.

Bodies stream in both directions with back-pressure, so memory does not grow with artifact
size. One pooled client session serves the whole process. Every upstream failure is answered
with a JSON error in MLflow's shape; a failure after the response has started aborts the
connection so the caller can never mistake a truncated body for a complete one.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from yarl import URL

from hokusai_platform.gateway import errors
from hokusai_platform.gateway.headers import downstream_headers, upstream_headers
from hokusai_platform.gateway.paths import PathRejected, upstream_target
from hokusai_platform.settings import UpstreamURL

log = logging.getLogger("hokusai.proxy")

# Small answers are read whole and sent with one write; larger ones stream.
BUFFER_LIMIT = 256 * 1024
# MLflow's JSON handlers read an empty body from a chunked request, so a chunked body on a
# non-artifact route is collected (up to this size) and forwarded with a Content-Length.
CHUNKED_JSON_LIMIT = 16 * 1024 * 1024
_STREAMED_ROUTE_MARKERS = ("/mlflow-artifacts/", "/get-artifact")
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


def _is_streamed_route(target: str) -> bool:
    return any(marker in target for marker in _STREAMED_ROUTE_MARKERS)


class UpstreamFailure(Exception):
    """Sending to MLflow failed before a response began; carries the answer to give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError)


def describe_failure(exc: Exception, upstream: str) -> UpstreamFailure:
    """One explicit mapping from client failure type to the caller's error."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return UpstreamFailure(502, f"upstream {upstream}: name does not resolve ({exc.os_error})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamFailure(502, f"upstream {upstream}: cannot connect ({exc.os_error})")
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamFailure(504, f"upstream {upstream}: timed out")
    return UpstreamFailure(502, f"upstream {upstream}: {type(exc).__name__}: {exc}")


class MlflowProxy:
    def __init__(self, target: UpstreamURL, *, connect_timeout: float, read_timeout: float) -> None:
        self._target = target
        self._base = str(target)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None

    @property
    def target(self) -> UpstreamURL:
        return self._target

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("MlflowProxy.start() has not been awaited")
        return self._session

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            skip_auto_headers=_NO_AUTO_HEADERS,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            target = upstream_target(request.raw_path)
        except PathRejected as exc:
            return errors.json_error(400, errors.BAD_REQUEST, str(exc))
        request["upstream"] = self._target.authority
        headers = upstream_headers(
            request.headers,
            host=self._target.authority,
            request_id=request["request_id"],
            client_ip=request.remote,
            scheme=request.scheme,
        )
        body: bytes | aiohttp.StreamReader | None = None
        if request.body_exists:
            if request.content_length is None and not _is_streamed_route(target):
                body = await request.content.read(CHUNKED_JSON_LIMIT + 1)
                if len(body) > CHUNKED_JSON_LIMIT:
                    return errors.json_error(
                        413, errors.REQUEST_TOO_LARGE, "chunked JSON body exceeds 16 MiB"
                    )
            else:
                body = request.content
        try:
            upstream = await self.session.request(
                request.method,
                URL(self._base + target, encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except _FAILURES as exc:
            return self._failure_response(request, exc)
        async with upstream:
            return await self._relay(request, upstream)

    def _failure_response(self, request: web.Request, exc: Exception) -> web.Response:
        failure = describe_failure(exc, self._target.authority)
        log.warning(
            "upstream failure", extra={"request_id": request["request_id"], "error": str(failure)}
        )
        return errors.json_error(
            failure.status, errors.error_code_for(failure.status), str(failure)
        )

    async def _relay(
        self, request: web.Request, upstream: aiohttp.ClientResponse
    ) -> web.StreamResponse:
        status = upstream.status
        content_type = upstream.headers.get("Content-Type", "")
        if status == 404 and content_type.startswith("text/html"):
            return errors.json_error(
                404, errors.ENDPOINT_NOT_FOUND, f"MLflow has no endpoint {request.path}"
            )
        headers = downstream_headers(upstream.headers)
        length = upstream.content_length
        if length is not None and length <= BUFFER_LIMIT and request.method != "HEAD":
            try:
                body = await upstream.read()
            except _FAILURES as exc:
                return self._failure_response(request, exc)
            return web.Response(status=status, body=body, headers=headers)
        response = web.StreamResponse(status=status, reason=upstream.reason, headers=headers)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (*_FAILURES, ConnectionError) as exc:
            log.warning(
                "stream broken mid-response",
                extra={"request_id": request["request_id"], "error": repr(exc)},
            )
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
