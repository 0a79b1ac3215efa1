"""The pooled HTTP/1.1 client against the package's own server, on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest
import uvloop
from support.http_server import serving

from hokusai_platform.http.client import Client, Origin
from hokusai_platform.http.errors import ClientTimeout, ConnectError, RemoteProtocolError
from hokusai_platform.http.messages import Request, Response


def origin(port: int) -> Origin:
    return Origin("http", "127.0.0.1", port)


def test_an_origin_is_equal_to_the_plain_tuple_of_its_parts() -> None:
    assert Origin("http", "::1", 80) == ("http", "::1", 80)
    assert Origin("http", "::1", 80).authority == "[::1]:80"
    assert Origin("http", "10.0.0.1", 5000).authority == "10.0.0.1:5000"


def test_requests_to_one_origin_reuse_one_connection() -> None:
    peers: list[tuple[object, bytes | None]] = []

    async def who(request: Request) -> Response:
        peers.append((request.connection, request.field(b"host")))
        return Response(body=b"ok")

    async def run() -> tuple[int, list[int]]:
        async with serving(who) as port:
            client = Client(connect_timeout=5, read_timeout=5)
            statuses = []
            for _ in range(3):
                answer = await client.send(origin(port), "GET", "/")
                assert await answer.read() == b"ok"
                statuses.append(answer.status)
            await client.close()
            return port, statuses

    port, statuses = asyncio.run(run())
    assert statuses == [200, 200, 200]
    assert len({connection for connection, _ in peers}) == 1
    assert {host for _, host in peers} == {b"127.0.0.1:%d" % port}


def test_a_streamed_body_goes_out_chunked_and_a_large_answer_comes_back_in_pieces() -> None:
    piece = b"x" * 65536

    async def count(request: Request) -> Response:
        assert request.body is not None and request.field(b"transfer-encoding") == b"chunked"
        size = sum([len(chunk) async for chunk in request.body.chunks()])
        return Response(body=b"%d\n" % size * 200_000)  # ~1.4 MB: over the whole-answer size

    async def upload() -> AsyncIterator[bytes]:
        for _ in range(8):  # 512 KiB: over the buffer's high-water mark
            yield piece

    async def run() -> tuple[int | None, list[bytes]]:
        async with serving(count) as port:
            client = Client(connect_timeout=5, read_timeout=5)
            answer = await client.send(origin(port), "PUT", "/", content=upload())
            chunks = [chunk async for chunk in answer.iter_chunks()]
            await client.close()
            return answer.length, chunks

    length, chunks = asyncio.run(run())
    expected = b"%d\n" % (8 * len(piece)) * 200_000
    assert length == len(expected) and b"".join(chunks) == expected
    assert len(chunks) > 1


def test_silence_from_the_origin_raises_a_timeout() -> None:
    async def silent(request: Request) -> Response:
        await asyncio.sleep(5)
        return Response()

    async def run() -> None:
        async with serving(silent) as port:
            client = Client(connect_timeout=5, read_timeout=0.3)
            try:
                await client.send(origin(port), "GET", "/")
            finally:
                await client.close()

    with pytest.raises(ClientTimeout, match=r"no response within 0\.3s"):
        asyncio.run(run())


def test_an_origin_that_closes_without_answering_is_a_protocol_error() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("the handler fails: the server closes the connection")

    async def run() -> None:
        async with serving(broken) as port:
            client = Client(connect_timeout=5, read_timeout=5)
            try:
                await client.send(origin(port), "GET", "/")
            finally:
                await client.close()

    with pytest.raises(RemoteProtocolError, match="closed before the response was complete"):
        asyncio.run(run())


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connecting is refused

        async def run() -> None:
            client = Client(connect_timeout=5, read_timeout=5)
            await client.send(origin(port), "GET", "/")

        with pytest.raises(ConnectError):
            asyncio.run(run())


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_a_request_goes_out_without_waiting_for_more_to_send(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    async def run() -> int:
        async with serving(lambda request: _ok()) as port:
            client = Client(connect_timeout=5, read_timeout=5)
            answer = await client.send(origin(port), "GET", "/")
            await answer.read()
            (conn,) = client.connections
            assert conn.transport is not None
            sock = conn.transport.get_extra_info("socket")
            nodelay = int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            await client.close()
            return nodelay

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        assert runner.run(run()) == 1  # TCP_NODELAY: no Nagle delay on a small request


async def _ok() -> Response:
    return Response(body=b"ok")
