"""The gateway's own HTTP/1.1 server: framing, keep-alive and its refusals, on the wire."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from support.echo_upstream import EchoUpstream
from support.processes import start_gateway
from support.raw_http import assert_closed, connect, read_response

LIMIT = 1024 * 1024
JSON_LIMIT = LIMIT // 2  # below the artifact limit: the server alone would not enforce it
CHUNK = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)


@pytest.fixture(scope="module")
def gateway(echo: EchoUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log: Path = tmp_path_factory.mktemp("http-server") / "gateway.log"
    server, url = start_gateway(
        log,
        {
            "MLFLOW_SERVER_URL": echo.url,
            "HOKUSAI_CLIENT_TIMEOUT": "2",
            "HOKUSAI_MAX_ARTIFACT_BYTES": str(LIMIT),
            "HOKUSAI_MAX_JSON_BODY_BYTES": str(JSON_LIMIT),
        },
    )
    yield url
    server.stop()


def assert_json_error(body: bytes, error_code: str) -> None:
    assert json.loads(body)["error_code"] == error_code


def test_pipelined_requests_are_answered_in_order(gateway: str) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(
            b"GET /api/mlflow/version HTTP/1.1\r\nHost: a\r\nX-Request-ID: first\r\n\r\n"
            b"GET /health/live HTTP/1.1\r\nHost: a\r\nX-Request-ID: second\r\n\r\n"
            b"GET /api/mlflow/health HTTP/1.1\r\nHost: a\r\nX-Request-ID: third\r\n\r\n"
        )
        answers = [read_response(stream) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert [headers["x-request-id"] for _, headers, _ in answers] == ["first", "second", "third"]
    assert answers[1][2] == b'{"status": "live"}'


def test_a_keep_alive_connection_carries_many_requests(gateway: str) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        for _ in range(50):
            sock.sendall(b"GET /api/mlflow/version HTTP/1.1\r\nHost: a\r\n\r\n")
            status, headers, _ = read_response(stream)
            assert status == 200 and "connection" not in headers


def test_an_http_1_0_request_is_answered_then_the_connection_closes(gateway: str) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(b"GET /api/mlflow/version HTTP/1.0\r\n\r\n")
        status, headers, _ = read_response(stream)
        assert status == 200 and headers["connection"] == "close"
        assert_closed(sock)


def test_an_upgrade_is_not_performed_the_request_is_answered_and_the_connection_closed(
    gateway: str,
) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(
            b"GET /api/mlflow/version HTTP/1.1\r\nHost: a\r\n"
            b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        )
        status, headers, _ = read_response(stream)
        assert status == 200 and headers["connection"] == "close"
        assert_closed(sock)


def test_head_on_a_gateway_endpoint_sends_the_length_but_no_body(gateway: str) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(
            b"HEAD /health/live HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /health/live HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        assert stream.readline().startswith(b"HTTP/1.1 200")
        head = b""
        while (line := stream.readline()) != b"\r\n":
            head += line
        assert b"Content-Length: 18" in head
        # No body came after the HEAD answer: the next bytes are the GET's answer.
        status, _, body = read_response(stream)
    assert status == 200 and body == b'{"status": "live"}'


def test_a_slow_request_head_gets_a_json_408(gateway: str) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        started = time.monotonic()
        sock.sendall(b"GET /api/mlflow/version HTTP/1.1\r\nHost: a\r\n")  # never the blank line
        status, _, body = read_response(stream)
        assert 2 <= time.monotonic() - started < 5
        assert status == 408
        assert_json_error(body, "REQUEST_TIMEOUT")


def test_more_than_a_hundred_header_fields_get_a_json_431(gateway: str, echo: EchoUpstream) -> None:
    fields = b"".join(b"X-Field-%d: %d\r\n" % (number, number) for number in range(100))
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(b"GET /api/mlflow/too-many-fields HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
        status, _, body = read_response(stream)
        assert status == 431
        assert_json_error(body, "REQUEST_HEADER_FIELDS_TOO_LARGE")
        assert_closed(sock)
    assert echo.count("/too-many-fields") == 0


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b"Content-Length: 4\r\nContent-Length: 5\r\n",
    ],
    ids=["length-and-chunked", "two-lengths"],
)
def test_ambiguous_body_framing_is_refused_before_reaching_the_upstream(
    gateway: str, echo: EchoUpstream, framing: bytes
) -> None:
    before = len(echo.received)
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(
            b"POST /api/mlflow/api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: a\r\n"
            + framing
            + b"\r\n0\r\n\r\n"
        )
        status, headers, body = read_response(stream)
    assert status == 400 and headers["connection"] == "close"
    assert_json_error(body, "BAD_REQUEST")
    assert len(echo.received) == before


def test_a_chunked_body_over_the_limit_gets_a_json_413_and_the_connection_closes(
    gateway: str,
) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(
            b"PUT /api/mlflow/api/2.0/mlflow-artifacts/artifacts/1/big.bin HTTP/1.1\r\n"
            b"Host: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            for _ in range(2 * LIMIT // 65536):
                sock.sendall(CHUNK)
        except OSError:
            pass  # the gateway hung up; its answer is already in our receive buffer
        status, _, body = read_response(stream)
    assert status == 413
    assert_json_error(body, "REQUEST_TOO_LARGE")


def test_a_body_arriving_in_pieces_then_a_pipelined_request_are_both_forwarded_exactly(
    gateway: str, echo: EchoUpstream
) -> None:
    body = json.dumps({"experiment_id": "1", "pad": "x" * 300_000}).encode()
    head = (
        b"POST /api/mlflow/api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: a\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(head + body[:1000])
        time.sleep(0.2)  # the rest arrives after the head has been parsed
        sock.sendall(body[1000:] + b"GET /health/live HTTP/1.1\r\nHost: a\r\n\r\n")
        created, _, _ = read_response(stream)
        live, _, answer = read_response(stream)
    assert created == 200 and echo.last().body == body
    assert live == 200 and answer == b'{"status": "live"}'


CHUNKED_JSON_HEAD = (
    b"POST /api/mlflow/api/2.0/mlflow/runs/log-metric HTTP/1.1\r\nHost: a\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def assert_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body) == {
        "error_code": "REQUEST_TOO_LARGE",
        "message": f"request body exceeds the limit of {JSON_LIMIT} bytes",
    }


def test_a_chunked_json_body_gets_413_as_soon_as_it_passes_the_json_limit(
    gateway: str, echo: EchoUpstream
) -> None:
    before = len(echo.received)
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        # The body never ends: only a limit checked as the chunks arrive can answer this.
        sock.sendall(CHUNKED_JSON_HEAD + CHUNK * (JSON_LIMIT // 65536 + 1))
        assert_too_large(*read_response(stream))
        assert stream.read() == b"", "the connection ends after the answer"
    assert len(echo.received) == before


def test_a_whole_chunked_json_body_over_the_limit_is_refused_and_the_connection_ends_cleanly(
    gateway: str, echo: EchoUpstream
) -> None:
    before = len(echo.received)
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        # 2 MiB, as in issue 20, sent before anything is read. Sending fails if the gateway
        # hangs up first; its answer is already here.
        with contextlib.suppress(OSError):
            sock.sendall(CHUNKED_JSON_HEAD + CHUNK * 32 + b"0\r\n\r\n")
        assert_too_large(*read_response(stream))
        # The end of the stream, not a reset: the answer cannot be lost to one.
        assert stream.read() == b""
    assert len(echo.received) == before


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        (b"Host: 127.0.0.1\r\nHost: evil.example\r\nContent-Length: 2\r\n", b"{}"),
        (
            b"Host: a\r\nAuthorization: Bearer one\r\nAuthorization: Bearer one\r\n"
            b"Content-Length: 2\r\n",
            b"{}",
        ),
        (b"Host: a\r\nX-API-Key: one\r\nx-api-key: two\r\nContent-Length: 2\r\n", b"{}"),
        (
            b"Host: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            b"2\r\n{}\r\n0\r\n\r\n",
        ),
        (b"Host: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n", b"{}"),
    ],
    ids=["host", "authorization", "x-api-key", "transfer-encoding", "content-length"],
)
def test_a_field_that_must_be_single_sent_twice_gets_400_whatever_its_values(
    gateway: str, echo: EchoUpstream, fields: bytes, body: bytes
) -> None:
    before = len(echo.received)
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(
            b"POST /api/mlflow/api/2.0/mlflow/runs/create HTTP/1.1\r\n" + fields + b"\r\n" + body
        )
        status, headers, answer = read_response(stream)
        assert status == 400 and headers["connection"] == "close"
        assert_json_error(answer, "BAD_REQUEST")
        assert json.loads(answer)["message"]
        assert_closed(sock)
    assert len(echo.received) == before


def test_other_fields_may_repeat(gateway: str, echo: EchoUpstream) -> None:
    with connect(gateway) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(
            b"GET /api/mlflow/api/2.0/mlflow/experiments/search HTTP/1.1\r\nHost: a\r\n"
            b"Accept: application/json\r\nAccept: */*\r\nX-Trace: 1\r\nX-Trace: 2\r\n\r\n"
        )
        status, _, _ = read_response(stream)
    assert status == 200
    assert echo.last().headers["x-trace"] == ["1", "2"]
