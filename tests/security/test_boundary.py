"""Hostile requests are answered at the gateway with the right 4xx, and none reaches MLflow."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.echo_upstream import EchoUpstream
from support.processes import free_port, start_gateway
from support.secured import GENEROUS, Keys, exchange, request

from hokusai_platform.audit import FLUSH_SECONDS
from hokusai_platform.http.client import WHOLE_ANSWER_BYTES
from hokusai_platform.keys import tokens
from hokusai_platform.keys.scopes import Scope

SEARCH = "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=1"


def raw(base: str, payload: bytes) -> tuple[int, bytes]:
    """Send bytes no well-behaved client would; the status and the body of the answer."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(payload)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")),
                None,
            )  # fmt: skip
            if length is not None and len(body) >= length:
                break
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def gateway(guarded_echo: tuple[str, Path]) -> str:
    return guarded_echo[0]


@pytest.fixture
def nothing_reaches_mlflow(echo: EchoUpstream) -> Iterator[None]:
    before = len(echo.received)
    yield
    assert len(echo.received) == before, [r.path for r in echo.received[before:]]


def assert_error(body: bytes, error_code: str) -> dict[str, str]:
    error: dict[str, str] = json.loads(body)
    assert error["error_code"] == error_code, error
    assert error["message"]
    return error


def test_a_valid_key_passes_and_is_not_forwarded(
    gateway: str, keys: Keys, echo: EchoUpstream
) -> None:
    status, headers, _ = request(gateway, "GET", SEARCH, bearer(keys.read))
    assert status == 200
    assert "authorization" not in echo.last().headers
    assert int(headers["ratelimit-limit"]) == GENEROUS.limit
    assert "ratelimit-remaining" in headers and "ratelimit-reset" in headers


def test_a_streamed_answer_carries_the_rate_limit_and_request_id_too(
    gateway: str, keys: Keys
) -> None:
    # Past the gateway's buffer limit (256 KiB), the answer's head is sent before its body.
    padded = SEARCH + f"&pad={WHOLE_ANSWER_BYTES + 1}"
    headers = {**bearer(keys.read), "X-Request-ID": "streamed-1"}
    status, answer_headers, body = request(gateway, "GET", padded, headers)
    assert status == 200 and len(body) > WHOLE_ANSWER_BYTES
    assert answer_headers["x-request-id"] == "streamed-1"
    assert int(answer_headers["ratelimit-limit"]) == GENEROUS.limit
    assert "ratelimit-remaining" in answer_headers and "ratelimit-reset" in answer_headers


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {tokens.new_secret()}"},
        {"Authorization": "Bearer hunter2"},
        {"X-API-Key": tokens.new_secret()},
        {"Authorization": "Basic " + base64.b64encode(b"user:wrong").decode()},
        {"Authorization": "Digest username=admin"},
    ],
    ids=["none", "empty", "unknown", "malformed", "unknown-x-api-key", "basic-wrong", "digest"],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_missing_or_wrong_keys_get_401_with_a_challenge(
    gateway: str, credentials: dict[str, str]
) -> None:
    status, headers, body = exchange(gateway, "GET", SEARCH, credentials)
    assert status == 401
    # One challenge a line: Chromium, for one, reads no second scheme from a shared line.
    challenges = headers.get_all("WWW-Authenticate")
    assert challenges == ['Bearer realm="hokusai"', 'Basic realm="hokusai"']
    assert_error(body, "UNAUTHENTICATED")


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_expired_and_revoked_keys_get_the_same_401_as_unknown_ones(
    gateway: str, keys: Keys
) -> None:
    answers = [request(gateway, "GET", SEARCH, bearer(key)) for key in (keys.expired, keys.revoked)]
    unknown = request(gateway, "GET", SEARCH, bearer(tokens.new_secret()))
    assert {status for status, _, _ in answers} == {401}
    assert {body for _, _, body in answers} == {unknown[2]}, "the reason is logged, not revealed"


def test_a_revoked_key_is_refused_within_one_second(
    gateway: str, keys: Keys, echo: EchoUpstream
) -> None:
    issued = keys.store.create("soon-revoked", Scope.READ, GENEROUS)
    assert request(gateway, "GET", SEARCH, bearer(issued.secret))[0] == 200
    keys.store.revoke(issued.info.id)
    revoked_at = time.monotonic()
    while request(gateway, "GET", SEARCH, bearer(issued.secret))[0] == 200:
        assert time.monotonic() - revoked_at < 1.0, "still accepted a second after revocation"
        time.sleep(0.02)
    before = len(echo.received)
    assert request(gateway, "GET", SEARCH, bearer(issued.secret))[0] == 401
    assert len(echo.received) == before


@pytest.mark.parametrize(
    "query",
    ["api_key={key}", "access_token={key}", "x={key}", "apikey=anything"],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_key_in_the_query_string_is_refused_even_with_a_valid_header(
    gateway: str, keys: Keys, query: str
) -> None:
    path = "/api/mlflow/api/2.0/mlflow/experiments/search?" + query.format(key=keys.read)
    status, _, body = request(gateway, "GET", path, bearer(keys.read))
    assert status == 400
    assert keys.read not in body.decode()
    assert_error(body, "BAD_REQUEST")


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_oversized_headers_get_431(gateway: str, keys: Keys) -> None:
    status, body = raw(
        gateway,
        b"GET " + SEARCH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + keys.read.encode() + b"\r\n"
        b"X-Padding: " + b"a" * 5000 + b"\r\n\r\n",
    )
    assert status == 431
    assert_error(body, "REQUEST_HEADER_FIELDS_TOO_LARGE")


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("/api/mlflow/api/2.0/mlflow/runs/log-batch", 65537),
        ("/api/mlflow/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin", 1048577),
    ],
    ids=["json", "artifact"],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_oversized_bodies_get_413_before_they_are_read(
    gateway: str, keys: Keys, path: str, size: int
) -> None:
    method = "PUT" if "artifacts/" in path else "POST"
    status, body = raw(
        gateway,
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {keys.write}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode(),
    )
    assert status == 413
    assert_error(body, "REQUEST_TOO_LARGE")


def test_a_chunked_upload_is_cut_off_at_the_artifact_limit(gateway: str, keys: Keys) -> None:
    parts = urlsplit(gateway)
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /api/mlflow/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin HTTP/1.1"
            b"\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + keys.write.encode() + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        with pytest.raises(OSError):  # the gateway hangs up
            for _ in range(64):  # 4 MiB, against a limit of 1 MiB
                sock.sendall(chunk)
                sent += 65536
                time.sleep(0.01)
    assert sent < 3 * 1024 * 1024


def test_bodies_within_the_limits_pass(gateway: str, keys: Keys, echo: EchoUpstream) -> None:
    body = json.dumps({"run_id": "r", "metrics": [], "pad": "x" * 60000}).encode()
    status, _, _ = request(
        gateway, "POST", "/api/mlflow/api/2.0/mlflow/runs/log-batch", bearer(keys.write), body
    )
    assert status == 200 and echo.last().body == body


@pytest.mark.parametrize(
    "path",
    [
        "/api/mlflow/api/2.0/mlflow/../../../etc/passwd",
        "/api/mlflow/api/2.0/mlflow/%2e%2e/%2e%2e/admin",
        "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/..%2f..%2fsecrets",
        "/api/mlflow//evil.example/api/2.0/mlflow/experiments/search",
        "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    ],
    ids=["dots", "encoded-dots", "encoded-slashes", "double-slash", "overlong-utf8-dots"],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_path_escapes_get_400_even_with_an_admin_key(gateway: str, keys: Keys, path: str) -> None:
    status, body = raw(
        gateway,
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {keys.admin}\r\n\r\n"
        .encode(),
    )  # fmt: skip
    assert status == 400, body
    assert_error(body, "BAD_REQUEST")


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_absolute_form_targets_get_400(gateway: str, keys: Keys) -> None:
    status, body = raw(
        gateway,
        b"GET http://169.254.169.254/api/mlflow/api/2.0/mlflow/experiments/search HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nAuthorization: Bearer " + keys.admin.encode() + b"\r\n\r\n",
    )
    assert status == 400
    assert_error(body, "BAD_REQUEST")


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_host_we_do_not_serve_gets_421(gateway: str, keys: Keys) -> None:
    status, _, body = request(
        gateway, "GET", SEARCH, {**bearer(keys.admin), "Host": "internal.attacker.example"}
    )
    assert status == 421
    assert_error(body, "MISDIRECTED_REQUEST")


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_second_host_cannot_slip_past_the_allowed_hosts(gateway: str, keys: Keys) -> None:
    served = urlsplit(gateway).netloc
    status, body = raw(
        gateway,
        f"GET {SEARCH} HTTP/1.1\r\nHost: {served}\r\nHost: evil.example\r\n"
        f"Authorization: Bearer {keys.admin}\r\n\r\n".encode(),
    )
    assert status == 400
    assert (
        assert_error(body, "BAD_REQUEST")["message"] == "the request has more than one Host field"
    )


@pytest.mark.parametrize(
    "header",
    [b"X-Injected: a\r\x00b", b"X-Injected: a\rSet-Cookie: b", b"Bad Header: value"],
    ids=["nul", "bare-cr", "space-in-name"],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_malformed_headers_get_400_json(gateway: str, keys: Keys, header: bytes) -> None:
    status, body = raw(
        gateway,
        b"GET " + SEARCH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + keys.admin.encode() + b"\r\n" + header + b"\r\n\r\n",
    )
    assert status == 400
    assert_error(body, "BAD_REQUEST")


def test_a_slow_client_is_disconnected(gateway: str) -> None:
    parts = urlsplit(gateway)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET " + SEARCH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        for _ in range(8):  # a header every half second, never the blank line
            time.sleep(0.5)
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
        sock.settimeout(5)
        try:
            remainder = sock.recv(1024)
        except OSError:
            remainder = b""
    assert remainder == b"" or remainder.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 6, "the client timeout (2 s) bounds a slow header"


def test_a_stalled_body_is_disconnected(gateway: str, keys: Keys) -> None:
    parts = urlsplit(gateway)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/mlflow/api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + keys.write.encode() + b"\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"run_id": '
        )
        started = time.monotonic()
        try:
            remainder = sock.recv(1024)
        except OSError:
            remainder = b""
    assert remainder == b""
    assert 2 <= time.monotonic() - started < 5, "the client timeout (2 s) bounds a stalled body"


def test_every_authenticated_request_leaves_one_audit_line(
    guarded_echo: tuple[str, Path], keys: Keys
) -> None:
    gateway, audit = guarded_echo
    request_id = "audit-" + tokens.new_secret()[-12:]
    request(gateway, "GET", SEARCH, {**bearer(keys.write), "X-Request-ID": request_id})
    request(
        gateway,
        "DELETE",
        "/api/mlflow/api/2.0/mlflow/registered-models/delete",
        {**bearer(keys.write), "X-Request-ID": request_id + "-denied"},
    )
    time.sleep(FLUSH_SECONDS + 0.3)  # lines are written in batches
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    [allowed] = [line for line in lines if line.get("request_id") == request_id]
    [denied] = [line for line in lines if line.get("request_id") == request_id + "-denied"]
    assert allowed["scope"] == "write" and allowed["status"] == 200
    assert allowed["method"] == "GET" and allowed["route_family"] == "api/2.0"
    assert allowed["bytes_out"] > 0 and allowed["latency_ms"] > 0
    assert allowed["key_id"].startswith("key_")
    assert denied["status"] == 403
    assert keys.write not in audit.read_text()


def test_metrics_can_move_off_the_public_listener(echo: EchoUpstream, tmp_path: Path) -> None:
    metrics_port = free_port()
    server, url = start_gateway(
        tmp_path / "gateway.log",
        {"MLFLOW_SERVER_URL": echo.url, "HOKUSAI_METRICS_PORT": str(metrics_port)},
    )
    try:
        status, _, body = request(url, "GET", "/metrics")
        assert status == 404
        assert_error(body, "ENDPOINT_NOT_FOUND")
        private = f"http://127.0.0.1:{metrics_port}"
        status, headers, body = request(private, "GET", "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        assert b"hokusai_" in body
        assert request(private, "GET", "/api/mlflow/version")[0] == 404
    finally:
        server.stop()
