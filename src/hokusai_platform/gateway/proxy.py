"""The streaming reverse proxy: `/api/mlflow/<path>` → MLflow `/<path>`.

Bodies stream in both directions with back-pressure, so memory does not grow with artifact
size. One pooled upstream client serves the whole process. Each request goes to the endpoint
discovery picks (`discovery.cluster.Cluster`) and, when it fails in a way that is safe to
repeat (nothing was sent yet, or an idempotent request without a body), to another one. Every
upstream failure is answered with a JSON error in MLflow's shape; a failure after the response
has started aborts the connection so the caller can never mistake a truncated body for a
complete one.
"""

from __future__ import annotations

import logging
import time

from hokusai_platform.discovery.cluster import Cluster
from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.discovery.outlier import Outcome
from hokusai_platform.gateway import errors
from hokusai_platform.gateway.exchange import Exchange
from hokusai_platform.gateway.headers import downstream_fields, upstream_fields
from hokusai_platform.gateway.paths import PathRejected, upstream_target
from hokusai_platform.http.client import WHOLE_ANSWER_BYTES, Client, ClientResponse, Content
from hokusai_platform.http.errors import (
    ClientDisconnected,
    ClientError,
    ClientTimeout,
    ConnectError,
    NameResolutionError,
)
from hokusai_platform.http.messages import AnyResponse, Response, StreamResponse
from hokusai_platform.http.protocol import Body

log = logging.getLogger("hokusai.proxy")

_STREAMED_ROUTE_MARKERS = ("/mlflow-artifacts/", "/get-artifact")
_BODYLESS_METHODS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"))
_IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
MAX_ATTEMPTS = 3


def _is_streamed_route(target: str) -> bool:
    return any(marker in target for marker in _STREAMED_ROUTE_MARKERS)


def _is_small(upstream: ClientResponse) -> bool:
    """An answer sent whole with one write (a HEAD answer has no declared body); larger
    ones stream."""
    return upstream.length is not None and upstream.length <= WHOLE_ANSWER_BYTES


async def _collect(content: Body, limit: int) -> bytes | None:
    """The whole body, or None as soon as what has arrived passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in content.chunks():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class UpstreamFailure(Exception):
    """Sending to MLflow failed; carries the answer to give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def describe_failure(exc: ClientError, upstream: str) -> UpstreamFailure:
    """One explicit mapping from client failure type to the caller's error."""
    if isinstance(exc, NameResolutionError):
        return UpstreamFailure(502, f"upstream {upstream}: name does not resolve ({exc})")
    if isinstance(exc, ConnectError):
        return UpstreamFailure(502, f"upstream {upstream}: cannot connect ({exc})")
    if isinstance(exc, ClientTimeout):
        return UpstreamFailure(504, f"upstream {upstream}: timed out ({exc})")
    return UpstreamFailure(502, f"upstream {upstream}: {exc}")


def outcome_of(exc: ClientError) -> Outcome:
    if isinstance(exc, ConnectError):
        return Outcome.CONNECT_FAILURE
    if isinstance(exc, ClientTimeout):
        return Outcome.TIMEOUT
    return Outcome.SERVER_ERROR


class MlflowProxy:
    def __init__(self, upstream: Cluster, client: Client, max_json_body_bytes: int) -> None:
        self.upstream = upstream
        self.client = client
        self.max_json_body_bytes = max_json_body_bytes

    async def handle(self, exchange: Exchange) -> AnyResponse:
        """Forward the request to an endpoint (named in `exchange.endpoint`), relay the answer."""
        request = exchange.request
        try:
            target = upstream_target(request.raw_path)
        except PathRejected as exc:
            return errors.json_error(400, errors.BAD_REQUEST, str(exc))
        fields = upstream_fields(
            request.raw_headers,
            request.field_names,
            request_id=exchange.id,
            client_ip=request.remote,
            scheme="http",  # TLS ends at the load balancer
        )
        body: Content = None
        content_length = request.content_length
        if request.body is not None:
            request.send_continue()
            if content_length is None and not _is_streamed_route(target):
                # MLflow's JSON handlers read a chunked body as empty: it is collected, within
                # the JSON limit (checked as it arrives), and sent with a Content-Length.
                limit = self.max_json_body_bytes
                body = await _collect(request.body, limit)
                if body is None:
                    return errors.json_error(
                        413,
                        errors.REQUEST_TOO_LARGE,
                        f"request body exceeds the limit of {limit} bytes",
                    )
            else:
                body = request.body.chunks()
        elif request.method not in _BODYLESS_METHODS:
            body = b""
        repeatable = body is None and request.method in _IDEMPOTENT_METHODS
        tried: list[Endpoint] = []
        failure: ClientError | None = None
        while True:
            endpoint = self.upstream.pick(tried)
            if endpoint is None:
                if failure is not None:
                    return self._failure_response(exchange, failure)
                return self._unreachable(exchange)
            tried.append(endpoint)
            exchange.endpoint = endpoint
            started = time.perf_counter()
            answer: bytes | None = None
            try:
                upstream = await self.client.send(
                    endpoint.address,
                    request.method,
                    target,
                    fields,
                    body,
                    content_length=content_length,
                )
                if repeatable and _is_small(upstream):
                    # Read before anything reaches the caller, so that an endpoint dying
                    # mid-answer leaves the request free to go elsewhere.
                    try:
                        answer = await upstream.read()
                    finally:
                        if answer is None:
                            upstream.close()
            except ClientError as exc:
                self.upstream.report(endpoint, outcome_of(exc))
                self.upstream.record_request(endpoint, 0, time.perf_counter() - started)
                # A refused connection carried no byte of the request: any request may go on.
                if (isinstance(exc, ConnectError) or repeatable) and len(tried) < MAX_ATTEMPTS:
                    failure = exc
                    continue
                return self._failure_response(exchange, exc)
            break
        self.upstream.report(
            endpoint, Outcome.SERVER_ERROR if upstream.status >= 500 else Outcome.SUCCESS
        )
        self.upstream.record_request(endpoint, upstream.status, time.perf_counter() - started)
        try:
            return await self._relay(exchange, upstream, answer)
        finally:
            upstream.close()

    def _unreachable(self, exchange: Exchange) -> Response:
        message = f"upstream {self.upstream.target}: no usable endpoint ({self.upstream.reason})"
        log.warning("upstream failure", extra={"request_id": exchange.id, "error": message})
        return errors.json_error(502, errors.BAD_GATEWAY, message)

    def _failure_response(self, exchange: Exchange, exc: ClientError) -> Response:
        """The answer when sending to the endpoint tried last failed with `exc`."""
        assert exchange.endpoint is not None
        failure = describe_failure(exc, exchange.endpoint.authority)
        log.warning("upstream failure", extra={"request_id": exchange.id, "error": str(failure)})
        return errors.json_error(
            failure.status, errors.error_code_for(failure.status), str(failure)
        )

    async def _relay(
        self, exchange: Exchange, upstream: ClientResponse, answer: bytes | None
    ) -> AnyResponse:
        request = exchange.request
        status = upstream.status
        if status == 404 and (upstream.header(b"content-type") or b"").startswith(b"text/html"):
            return errors.json_error(
                404, errors.ENDPOINT_NOT_FOUND, f"MLflow has no endpoint {request.path}"
            )
        fields = downstream_fields(upstream.headers, upstream.field_names)
        if answer is not None:
            return Response(status=status, body=answer, fields=fields)
        if _is_small(upstream):
            try:
                body = await upstream.read()
            except ClientError as exc:
                return self._failure_response(exchange, exc)
            return Response(status=status, body=body, fields=fields)
        response = StreamResponse(status=status, fields=fields, length=upstream.length)
        await response.prepare(request, exchange.response_headers)
        try:
            async for chunk in upstream.iter_chunks():
                await response.write(chunk)
        except (ClientError, ClientDisconnected) as exc:
            log.warning(
                "stream broken mid-response", extra={"request_id": exchange.id, "error": repr(exc)}
            )
            request.abort()
        return response
