"""Runs the registry API: one listening socket, shared by `workers` forked processes.

The parent binds the socket itself, so a port in use fails at once with a clear message
(SO_REUSEPORT would let a second gateway silently share it); each worker owns its own event
loop and pooled upstream client.

SIGTERM (or SIGINT) drains, so that a rolling replacement drops nothing: /health/ready answers
503 at once while everything else is served for HOKUSAI_DRAIN_SECONDS, long enough for a
balancer to notice; then the listening socket closes, requests in progress (streams too) get
HOKUSAI_DRAIN_TIMEOUT more seconds, each answer from then on says `Connection: close`, and the
process exits 0. A second signal cuts the drain short.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Iterator

from hokusai_platform.gateway import errors, security
from hokusai_platform.gateway.app import Gateway, create_app
from hokusai_platform.gateway.headers import SINGLE_FIELDS
from hokusai_platform.http.server import Limits, Server
from hokusai_platform.settings import Settings

log = logging.getLogger("hokusai.server")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
CUT_SHORT = signal.SIGQUIT
HANDLED_SIGNALS = (*STOP_SIGNALS, CUT_SHORT)


class PortInUse(OSError):
    pass


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket; with `reuse_port`, one of several that share the port (each worker
    binds its own for the metrics port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
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


class Shutdown:
    """What signals ask of a process: SIGTERM or SIGINT drains, SIGQUIT cuts the drain short.

    So does a second SIGTERM or SIGINT, except in a worker of several: a signal sent to the
    process group reaches each worker as well as the parent, which relays it, so a worker sees
    it twice. The parent relays a second signal as SIGQUIT instead.
    """

    def __init__(self, *, repeat_cuts_short: bool) -> None:
        self.requested = asyncio.Event()
        self.cut_short = asyncio.Event()
        self._repeat_cuts_short = repeat_cuts_short
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._stop)
        loop.add_signal_handler(CUT_SHORT, self._cut)
        # A parent blocks them across fork (see _signals_blocked): delivered from now on.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)

    def _stop(self) -> None:
        if self.requested.is_set() and self._repeat_cuts_short:
            self.cut_short.set()
        self.requested.set()

    def _cut(self) -> None:
        self.requested.set()
        self.cut_short.set()

    async def unless_cut_short(self, work: Awaitable[object]) -> None:
        """Await `work`, or cancel it if the drain is cut short first."""
        task = asyncio.ensure_future(work)
        cut = asyncio.ensure_future(self.cut_short.wait())
        await asyncio.wait((task, cut), return_when=asyncio.FIRST_COMPLETED)
        cut.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _run_worker(settings: Settings, sock: socket.socket, *, one_of_many: bool) -> None:
    shutdown = Shutdown(repeat_cuts_short=not one_of_many)
    limits = Limits(
        max_field_bytes=settings.max_header_bytes,
        # The Guard checks declared sizes per route; this is the bound for every body,
        # declared or chunked.
        max_body_bytes=max(settings.max_artifact_bytes, settings.max_json_body_bytes),
        client_timeout=settings.client_timeout,
    )
    gateway = create_app(settings)
    await gateway.start()
    # What exists now (modules, the app, its tables) lives as long as the process: out of the
    # collector's sight, a full collection walks what requests leave behind, not the whole
    # heap (7 ms rather than 95 in a worker under load, bench/NOTES.md).
    gc.freeze()
    servers = [Server(gateway, limits, refusal=errors.refusal, single_fields=SINGLE_FIELDS)]
    servers[0].listen(sock)
    if settings.metrics_port is not None:
        # Every worker listens (SO_REUSEPORT); any of them answers with all workers' metrics.
        servers.append(
            Server(
                gateway.metrics_only, limits, refusal=errors.refusal, single_fields=SINGLE_FIELDS
            )
        )
        servers[1].listen(bind(settings.host, settings.metrics_port, reuse_port=True))
    await shutdown.requested.wait()
    await _drain(settings, gateway, servers, shutdown)
    await gateway.close()


async def _drain(
    settings: Settings, gateway: Gateway, servers: list[Server], shutdown: Shutdown
) -> None:
    """Not ready at once, but serving for `drain_seconds`: a balancer has time to notice and
    send new requests elsewhere. Then stop accepting and finish what is in progress."""
    gateway.drain()
    log.info("draining: /health/ready answers 503", extra={"seconds": settings.drain_seconds})
    await shutdown.unless_cut_short(asyncio.sleep(settings.drain_seconds))
    log.info("stopped accepting", extra={"timeout": settings.drain_timeout})
    await shutdown.unless_cut_short(
        asyncio.gather(*(server.stop(settings.drain_timeout) for server in servers))
    )
    for server in servers:
        server.close()  # what a drain cut short left open
    log.info("stopped", extra={"cut_short": shutdown.cut_short.is_set()})


def _worker_main(settings: Settings, sock: socket.socket, *, one_of_many: bool = False) -> None:
    with asyncio.Runner(loop_factory=_new_event_loop) as runner:
        runner.run(_run_worker(settings, sock, one_of_many=one_of_many))


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
    elif not _supervise(settings, sock):
        raise SystemExit(1)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Signals wait while a worker is forked and counted: until its event loop handles them,
    a child would run the parent's handlers (Shutdown unblocks them in the child)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)


def _start_worker(settings: Settings, sock: socket.socket, workers: set[int]) -> None:
    with _signals_blocked():
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _worker_main(settings, sock, one_of_many=True)
            except BaseException:
                log.exception("worker crashed")
                code = 1
            finally:
                os._exit(code)
        workers.add(pid)


def _supervise(settings: Settings, sock: socket.socket) -> bool:
    """Keep `workers` processes alive until SIGINT/SIGTERM, relay it, and wait for them all.

    True when every worker stopped cleanly."""
    workers: set[int] = set()
    signals = 0

    def relay(signum: int, frame: object) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            sock.close()  # no worker will be started again: once they close it, it is closed
        cut_short = signals > 1 or signum == CUT_SHORT
        for child in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, CUT_SHORT if cut_short else signal.SIGTERM)

    for signum in HANDLED_SIGNALS:
        signal.signal(signum, relay)
    for _ in range(settings.workers):
        if not signals:
            _start_worker(settings, sock, workers)
    clean = True
    while workers:
        pid, status = os.wait()
        workers.discard(pid)
        if not signals:
            log.warning("worker exited; starting another", extra={"pid": pid, "status": status})
            _start_worker(settings, sock, workers)
        elif status != 0:
            log.error("worker stopped uncleanly", extra={"pid": pid, "status": status})
            clean = False
    return clean
