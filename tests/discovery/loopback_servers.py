"""Servers on loopback for discovery tests: the discovery DNS server in-process (the process
is tests/discovery_server.py) and tiny HTTP endpoints that answer `/health` the way MLflow
does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from processes import free_port

from hokusai_platform.discovery.local.dns_server import DiscoveryServer
from hokusai_platform.discovery.local.registry import Registry

NAMESPACE = "hokusai-development.local"
NAME = f"mlflow.{NAMESPACE}"


@asynccontextmanager
async def discovery_dns() -> AsyncIterator[DiscoveryServer]:
    server = DiscoveryServer(Registry(NAMESPACE), control_port=None)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def a_queries(server: DiscoveryServer, name: str = NAME) -> int:
    return server.queries[(f"{name}.", "A")]


@asynccontextmanager
async def health_endpoint(host: str, port: int | None = None) -> AsyncIterator[int]:
    """An HTTP server at host:port answering GET /health with 200; yields its port."""

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, host, port).start()
    try:
        yield port
    finally:
        await runner.cleanup()
