"""Assembles the registry API: routes, the per-request envelope, and the shared upstream client.

The envelope below (request id, JSON errors, one access-log line) and an exact-path route
table stand in for an application framework's router, middleware chain and signals, which
cost more per request than the proxying itself.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time

from hokusai_platform import __version__, metrics
from hokusai_platform.discovery.cluster import Cluster
from hokusai_platform.gateway import errors, grant_admin, key_admin
from hokusai_platform.gateway.access_log import AccessLog
from hokusai_platform.gateway.exchange import Exchange
from hokusai_platform.gateway.health import MlflowHealth
from hokusai_platform.gateway.login import Login
from hokusai_platform.gateway.lookups import Lookups
from hokusai_platform.gateway.openapi import openapi_json
from hokusai_platform.gateway.paths import PREFIX
from hokusai_platform.gateway.proxy import MlflowProxy
from hokusai_platform.gateway.security import Guard
from hokusai_platform.gateway.sessions import HOME, redirect, wants_page
from hokusai_platform.http.client import Client
from hokusai_platform.http.errors import ClientDisconnected
from hokusai_platform.http.messages import AnyResponse, Request, Response, json_response
from hokusai_platform.http.server import Handler
from hokusai_platform.settings import Settings

SERVICE_NAME = "hokusai-registry-api"
log = logging.getLogger("hokusai.gateway")

_ACCEPTABLE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

ENDPOINTS = (
    "GET /",
    "GET /health",
    "GET /health/live",
    "GET /health/ready",
    "GET /metrics",
    "GET /openapi.json",
    "GET|POST /login",
    "GET|POST /logout",
    "GET /login/link",
    "ANY /api/mlflow/{path}",
    *key_admin.ENDPOINTS,
    *grant_admin.ENDPOINTS,
)


class RequestIds:
    """Request ids: the caller's when acceptable, else 32 hex digits unique to this worker.

    A random prefix per worker and a counter: ids must be unique, not secret, and this
    spares every request a call to the system's random source."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def __call__(self, request: Request) -> str:
        offered = request.field(b"x-request-id")
        if offered and _ACCEPTABLE_REQUEST_ID.fullmatch(offered):
            return offered.decode("ascii")
        return f"{self._prefix}{next(self._counter):016x}"


class Gateway:
    """The HTTP server's handler: routes each request and wraps it in the envelope."""

    def __init__(self, settings: Settings) -> None:
        self.client = Client(
            connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout
        )
        self.upstream = Cluster(
            "mlflow",
            settings.mlflow,
            fallback=settings.fallback_urls,
            dns_servers=settings.dns_servers,
            policy=settings.discovery,
        )
        # Pooled connections follow discovery: idle ones to an endpoint it dropped are closed.
        self.upstream.on_endpoint_removed(lambda endpoint: self.client.forget(endpoint.address))
        self.proxy = MlflowProxy(self.upstream, self.client, settings.max_json_body_bytes)
        self.health = MlflowHealth(
            self.proxy, timeout=settings.health_timeout, cache_seconds=settings.health_cache_seconds
        )
        self.guard = Guard(settings, Lookups(self.upstream, self.client))
        self.key_admin = key_admin.handler(self.guard, grant_admin.AdminApi)
        self._access_log = AccessLog() if settings.access_log else None
        self._request_id = RequestIds()  # made in each worker: forked ones get their own
        self._routes: dict[str, Handler] = {
            "/": self.index,
            "/health": self.health_report,
            "/health/live": self.live,
            "/health/ready": self.ready,
            "/metrics": self.metrics_text,
            "/openapi.json": openapi_json,
        }
        if settings.metrics_port is not None:
            del self._routes["/metrics"]  # served on its own listener only
        # Pages for people, each handling its own methods; with keys off there is no login.
        self._pages = Login(self.guard.sessions).routes if self.guard.sessions else {}
        self.draining = False

    def drain(self) -> None:
        """Shutting down: say not ready, so balancers send new requests elsewhere; every
        other endpoint serves on."""
        self.draining = True

    async def start(self) -> None:
        """Resolve MLflow's endpoints once; discovery keeps them fresh in the background."""
        await self.upstream.start(self.client)

    async def close(self) -> None:
        await self.upstream.close()
        await self.client.close()
        await self.guard.close()
        if self._access_log is not None:
            self._access_log.flush()

    async def __call__(self, request: Request) -> AnyResponse:
        """Request id, JSON errors for everything, and one access-log line."""
        exchange = Exchange(request, self._request_id(request), time.perf_counter())
        try:
            if request.raw_path.startswith(PREFIX):
                response = await self.guard.handle(exchange, self.proxy.handle)
            elif request.raw_path.startswith(key_admin.MOUNT):
                response = await self.key_admin(exchange)
            else:
                response = await self._route(request)
        except ClientDisconnected:
            # Logged as nginx does; the answer has nowhere to go.
            response = errors.json_error(499, "CLIENT_CLOSED_REQUEST", "the caller went away")
        except Exception:
            log.exception("unhandled error", extra={"request_id": exchange.id})
            response = errors.json_error(500, errors.INTERNAL_ERROR, "internal error")
        if isinstance(response, Response):  # a stream's head went out with them already
            response.extra = exchange.response_headers
        if self._access_log is not None:
            endpoint = exchange.endpoint
            self._access_log.write(
                exchange.id,
                request.method,
                request.path,
                response.status,
                request.content_length or 0,
                response.body_length,
                endpoint.authority if endpoint is not None else None,
                round((time.perf_counter() - exchange.started) * 1000, 2),
            )
        return response

    async def _route(self, request: Request) -> AnyResponse:
        """The gateway's own endpoints: everything outside the MLflow proxy's prefix."""
        if not request.raw_path.startswith("/"):
            return errors.json_error(
                400, errors.BAD_REQUEST, "absolute-form request targets are not accepted"
            )
        page = self._pages.get(request.path)
        if page is not None:
            return await page(request)
        handler = self._routes.get(request.path)
        if handler is None:
            return errors.json_error(404, errors.ENDPOINT_NOT_FOUND, f"no endpoint {request.path}")
        if request.method not in ("GET", "HEAD"):
            return errors.json_error(
                405, errors.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.path}"
            )
        return await handler(request)

    async def metrics_text(self, request: Request) -> Response:
        self.upstream.flush_metrics()  # this worker's requests so far; the others' within 1 s
        body, content_type = metrics.render()
        return Response(body=body, content_type=content_type)

    async def metrics_only(self, request: Request) -> Response:
        """The whole of the separate metrics listener (HOKUSAI_METRICS_PORT)."""
        if request.path != "/metrics":
            return errors.json_error(404, errors.ENDPOINT_NOT_FOUND, "only /metrics is served here")
        return await self.metrics_text(request)

    async def index(self, request: Request) -> Response:
        if wants_page(request):
            return redirect(HOME)  # a person: MLflow's UI
        return json_response(
            {"service": SERVICE_NAME, "version": __version__, "endpoints": list(ENDPOINTS)}
        )

    async def live(self, request: Request) -> Response:
        return json_response({"status": "live"})

    async def ready(self, request: Request) -> Response:
        if self.draining:
            return errors.json_error(503, "TEMPORARILY_UNAVAILABLE", "draining")
        mlflow = await self.health.check()
        if mlflow.status == "unhealthy":
            return errors.json_error(
                503, "TEMPORARILY_UNAVAILABLE", f"MLflow at {mlflow.endpoint}: {mlflow.last_error}"
            )
        return json_response({"status": "ready"})

    async def health_report(self, request: Request) -> Response:
        mlflow = await self.health.check()
        discovery = self.upstream.snapshot()
        redis = await self.guard.redis_health()
        report: dict[str, object] = {
            "status": mlflow.status,
            "service": SERVICE_NAME,
            "version": __version__,
            "draining": self.draining,
            "dependencies": {
                "mlflow": {**mlflow.to_json(), "discovery": discovery},
                "redis": redis,
            },
        }
        if mlflow.status == "healthy" and redis["status"] == "unhealthy":
            report["status"] = "degraded"  # requests still pass, without rate limits
        if mlflow.status == "healthy" and discovery["status"] != "healthy":
            # MLflow answers, but not the way it should: stale answers, fallback, ejections.
            report["status"] = "degraded"
            report["reason"], report["since"] = discovery["reason"], discovery["since"]
        if mlflow.status == "unhealthy":
            report["error_code"] = "TEMPORARILY_UNAVAILABLE"
            report["message"] = f"MLflow cannot be reached: {mlflow.last_error}"
            return json_response(report, status=503)
        return json_response(report)


def create_app(settings: Settings) -> Gateway:
    return Gateway(settings)
