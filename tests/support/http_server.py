"""The http package's own server on a free loopback port, for the tests of http/."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hokusai_platform.http.messages import Request, Response
from hokusai_platform.http.server import Handler, Limits, Refusal, Server, plain_refusal

LIMITS = Limits(max_field_bytes=1024, max_body_bytes=1024 * 1024, client_timeout=1)


@asynccontextmanager
async def serving(
    handler: Handler, limits: Limits = LIMITS, refusal: Refusal = plain_refusal
) -> AsyncIterator[int]:
    """A server on a free loopback port; yields the port."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    server = Server(handler, limits, refusal=refusal)
    server.listen(sock)
    try:
        yield sock.getsockname()[1]
    finally:
        server.close()


async def hello(request: Request) -> Response:
    return Response(body=b"hello " + request.path.encode(), content_type="text/plain")


async def send(port: int, data: bytes) -> bytes:
    """Send `data` on a new connection; everything the server sends until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
