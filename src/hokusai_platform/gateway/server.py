"""Runs the registry API: one listening socket, shared by `workers` forked processes.

The parent binds the socket itself, so a port in use fails at once with a clear message
(SO_REUSEPORT would let a second gateway silently share it); each worker owns its own event
loop and pooled upstream client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket

from hokusai_platform.gateway import security
from hokusai_platform.gateway.app import create_app
from hokusai_platform.gateway.http import HttpServer, Limits
from hokusai_platform.settings import Settings

log = logging.getLogger("hokusai.server")


class PortInUse(OSError):
    pass


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def _run_worker(settings: Settings, sock: socket.socket) -> None:
    limits = Limits(
        max_field_bytes=settings.max_header_bytes,
        # The Guard checks declared sizes per route; this is the bound for every body,
        # declared or chunked.
        max_body_bytes=max(settings.max_artifact_bytes, settings.max_json_body_bytes),
        client_timeout=settings.client_timeout,
    )
    gateway = create_app(settings)
    await gateway.start()
    servers = [HttpServer(gateway, limits)]
    await servers[0].listen(sock=sock)
    if settings.metrics_port is not None:
        # Every worker listens (SO_REUSEPORT); any of them answers with all workers' metrics.
        servers.append(HttpServer(gateway.metrics_only, limits))
        await servers[1].listen(host=settings.host, port=settings.metrics_port, reuse_port=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        await server.stop(grace=10)
    await gateway.close()


def _worker_main(settings: Settings, sock: socket.socket) -> None:
    with asyncio.Runner(loop_factory=_new_event_loop) as runner:
        runner.run(_run_worker(settings, sock))


def serve(settings: Settings) -> None:
    sock = bind(settings.host, settings.port)
    security.prepare(settings)
    log.info(
        "listening",
        extra={
            "address": f"http://{settings.host}:{settings.port}",
            "mlflow": settings.mlflow_url,
            "workers": settings.workers,
        },
    )
    if settings.workers == 1:
        _worker_main(settings, sock)
        return
    _supervise(settings, sock)


def _fork_worker(settings: Settings, sock: socket.socket) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _worker_main(settings, sock)
        except BaseException:
            log.exception("worker crashed")
            code = 1
        finally:
            os._exit(code)
    return pid


def _supervise(settings: Settings, sock: socket.socket) -> None:
    """Keep `workers` processes alive until SIGINT/SIGTERM, then stop them all."""
    workers: set[int] = set()
    stopping = False

    def stop_workers(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop_workers)
    signal.signal(signal.SIGTERM, stop_workers)
    workers.update(_fork_worker(settings, sock) for _ in range(settings.workers))
    while workers:
        pid, status = os.wait()
        workers.discard(pid)
        if not stopping:
            log.warning("worker exited; starting another", extra={"pid": pid, "status": status})
            workers.add(_fork_worker(settings, sock))
