"""Assembles the registry API: routes, the one middleware, and the shared upstream client."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from hokusai_platform import __version__, metrics
from hokusai_platform.gateway import errors
from hokusai_platform.gateway.health import MlflowHealth
from hokusai_platform.gateway.proxy import MlflowProxy
from hokusai_platform.settings import Settings

SERVICE_NAME = "hokusai-registry-api"
access_log = logging.getLogger("hokusai.access")

PROXY_KEY = web.AppKey("proxy", MlflowProxy)
HEALTH_KEY = web.AppKey("health", MlflowHealth)
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _request_id(request: web.Request) -> str:
    offered = request.headers.get("X-Request-ID")
    if offered and _ACCEPTABLE_REQUEST_ID.fullmatch(offered):
        return offered
    return secrets.token_hex(16)


def _make_middleware(log_requests: bool) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Request id, JSON errors for everything aiohttp raises, and one access-log line."""
        started = time.perf_counter()
        request["request_id"] = request_id = _request_id(request)
        if not request.raw_path.startswith("/"):
            response: web.StreamResponse = errors.json_error(
                400, errors.BAD_REQUEST, "absolute-form request targets are not accepted"
            )
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = errors.json_error(
                    exc.status, errors.error_code_for(exc.status), exc.reason
                )
        if log_requests:
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status,
                    "bytes_in": request.content_length or 0,
                    "bytes_out": response.body_length
                    if response.prepared
                    else response.content_length or 0,
                    "upstream": request.get("upstream"),
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        return response

    return middleware


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    # Set here rather than in the middleware: streamed responses are prepared inside the handler.
    response.headers["X-Request-ID"] = request["request_id"]


ENDPOINTS = (
    "GET /",
    "GET /health",
    "GET /health/live",
    "GET /health/ready",
    "GET /metrics",
    "ANY /api/mlflow/{path}",
)


async def metrics_text(request: web.Request) -> web.Response:
    body, content_type = metrics.render()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def index(request: web.Request) -> web.Response:
    return web.json_response(
        {"service": SERVICE_NAME, "version": __version__, "endpoints": list(ENDPOINTS)}
    )


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


async def ready(request: web.Request) -> web.Response:
    mlflow = await request.app[HEALTH_KEY].check()
    if mlflow.status == "unhealthy":
        return errors.json_error(
            503, "TEMPORARILY_UNAVAILABLE", f"MLflow at {mlflow.endpoint}: {mlflow.last_error}"
        )
    return web.json_response({"status": "ready"})


async def health(request: web.Request) -> web.Response:
    mlflow = await request.app[HEALTH_KEY].check()
    report: dict[str, object] = {
        "status": mlflow.status,
        "service": SERVICE_NAME,
        "version": __version__,
        "dependencies": {"mlflow": mlflow.to_json()},
    }
    if mlflow.status == "unhealthy":
        report["error_code"] = "TEMPORARILY_UNAVAILABLE"
        report["message"] = f"MLflow cannot be reached: {mlflow.last_error}"
        return web.json_response(report, status=503)
    return web.json_response(report)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[_make_middleware(settings.access_log)])
    proxy = MlflowProxy(
        settings.mlflow_url,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await proxy.start()
        yield
        await proxy.close()

    app[PROXY_KEY] = proxy
    app[HEALTH_KEY] = MlflowHealth(
        proxy,
        timeout=settings.health_timeout,
        cache_seconds=settings.health_cache_seconds,
    )
    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(_on_prepare)
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_route("*", "/api/mlflow/{tail:.*}", proxy.handle)
    return app
