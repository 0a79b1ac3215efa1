"""Servers on loopback for discovery tests: the discovery DNS server (in-process, or as the
`hokusai discovery serve` process with its control API and CLI) and tiny HTTP endpoints that
answer `/health` the way MLflow does."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
from aiohttp import web

from hokusai_platform.discovery.local.dns_server import DiscoveryServer
from hokusai_platform.discovery.local.registry import Registry
from support.processes import Server, executable, free_port, wait_for_http

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


@dataclass
class Discovery:
    """`hokusai discovery serve` running as a process."""

    server: Server
    dns_port: int
    control_url: str

    def hokusai(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [executable("hokusai"), "discovery", *args, "--control-url", self.control_url],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def api(self, method: str, path: str, body: dict[str, object] | None = None) -> None:
        """The control API directly: quicker than the CLI where its output is not the point."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.control_url + path, data=data, method=method)
        urllib.request.urlopen(request, timeout=5).close()

    def register(self, ip: str, port: int = 5000, **extra: object) -> None:
        self.api("POST", "/v1/services/mlflow/instances", {"address": ip, "port": port, **extra})

    def deregister(self, instance_id: str) -> None:
        self.api("DELETE", f"/v1/services/mlflow/instances/{instance_id}")

    def query(self, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
        message = dns.message.make_query(name, rdtype)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(message, "127.0.0.1", port=self.dns_port, timeout=2)


def start_discovery(log: Path, namespace: str = NAMESPACE) -> Discovery:
    """`hokusai discovery serve` for `namespace`, on ports of its own, once its API answers."""
    dns_port, control_port = free_port(), free_port()
    argv = [executable("hokusai"), "discovery", "serve", "--namespace", namespace]
    ports = ["--dns-port", str(dns_port), "--control-port", str(control_port)]
    server = Server(argv=[*argv, *ports], log=log).start()
    control_url = f"http://127.0.0.1:{control_port}"
    wait_for_http(f"{control_url}/v1/services", timeout=30, process=server.process, log=server.log)
    return Discovery(server, dns_port, control_url)
