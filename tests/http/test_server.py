"""The HTTP/1.1 server alone, on loopback: no gateway, no MLflow, no JSON."""

from __future__ import annotations

import asyncio

from support.http_server import hello, send, serving

from hokusai_platform.http.errors import HttpError
from hokusai_platform.http.messages import Request, Response, StreamResponse
from hokusai_platform.http.server import Limits


def test_pipelined_requests_are_answered_in_order_and_the_connection_kept() -> None:
    async def run() -> bytes:
        async with serving(hello) as port:
            return await send(
                port,
                b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n"
                b"GET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            )

    answer = asyncio.run(run())
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert answer.index(b"hello /one") < answer.index(b"hello /two") < answer.index(b"hello /three")
    assert answer.count(b"Connection: close") == 1


def test_without_a_refusal_of_its_own_the_server_refuses_in_plain_text() -> None:
    async def run() -> bytes:
        async with serving(hello) as port:
            return await send(
                port, b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 2000 + b"\r\n\r\n"
            )

    answer = asyncio.run(run())
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"Content-Type: text/plain; charset=utf-8\r\n" in answer
    assert answer.endswith(b"a request header is too large")


def test_the_refusal_given_shapes_every_refusal_and_is_told_its_status() -> None:
    refused: list[HttpError] = []

    def refusal(error: HttpError) -> Response:
        refused.append(error)
        return Response(status=error.status, body=b"{}", content_type="application/json")

    async def run() -> bytes:
        async with serving(hello, refusal=refusal) as port:
            return await send(port, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")

    answer = asyncio.run(run())
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and answer.endswith(b"{}")
    assert [error.status for error in refused] == [400]
    assert str(refused[0]) == "the request has more than one Host field"


def test_a_body_streams_through_a_handler_with_back_pressure_both_ways() -> None:
    """4 MiB in, 4 MiB out, through buffers of a quarter MiB: reading pauses and resumes."""
    body = bytes(range(256)) * 16384

    async def echo(request: Request) -> StreamResponse:
        assert request.body is not None
        response = StreamResponse(status=200, fields=b"", length=None)
        await response.prepare(request)
        async for chunk in request.body.chunks():
            await response.write(chunk)
        return response

    async def run() -> bytes:
        limits = Limits(max_field_bytes=1024, max_body_bytes=len(body), client_timeout=5)
        async with serving(echo, limits) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body))
            writer.write(body)
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"Transfer-Encoding: chunked" in head
            received = b""
            while size := int(await reader.readline(), 16):
                received += await reader.readexactly(size)
                await reader.readexactly(2)
            writer.close()
            return received

    assert asyncio.run(run()) == body


def test_an_idle_keep_alive_connection_is_closed_after_the_client_timeout() -> None:
    async def run() -> bytes:
        limits = Limits(max_field_bytes=1024, max_body_bytes=1024, client_timeout=0.2)
        async with serving(hello, limits) as port:
            return await send(port, b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n")

    answer = asyncio.run(run())  # read until the server closes: it does, unasked
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"hello /a")
