"""What the proxy promises, observed at a recording upstream."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from support.echo_upstream import UTF8_DISPOSITION, EchoUpstream
from support.processes import Server


def _request(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def _raw(base: str, payload: bytes) -> bytes:
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"}" in chunk:
                break
        return b"".join(chunks)


@pytest.fixture
def gateway(echo_gateway: tuple[str, Server]) -> str:
    return echo_gateway[0]


def test_caller_credentials_never_reach_the_upstream(gateway: str, echo: EchoUpstream) -> None:
    status, _, _ = _request(
        gateway,
        "POST",
        "/api/mlflow/api/2.0/mlflow/runs/log-metric",
        headers={
            "Authorization": "Bearer hk_live_secret",
            "X-API-Key": "hk_live_secret",
            "Cookie": "session=secret",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Content-Type": "application/json",
        },
        body=b'{"run_id": "r"}',
    )
    assert status == 200
    seen = echo.last().headers
    assert not {"authorization", "x-api-key", "cookie", "proxy-authorization"} & seen.keys()
    assert "secret" not in json.dumps(seen)


def test_upstream_sees_its_own_host_forwarding_headers_and_no_origin(
    gateway: str, echo: EchoUpstream
) -> None:
    _request(
        gateway,
        "POST",
        "/api/mlflow/api/2.0/mlflow/experiments/create",
        headers={
            "Origin": "https://registry.hokus.ai",
            "Connection": "X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Content-Type": "application/json",
        },
        body=b"{}",
    )
    seen = echo.last().headers
    assert seen["host"] == [urlsplit(echo.url).netloc]
    assert "origin" not in seen
    assert "x-secret-hop" not in seen
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == [urlsplit(gateway).netloc]
    assert seen["content-length"] == ["2"]


def test_a_request_id_is_generated_echoed_and_forwarded(gateway: str, echo: EchoUpstream) -> None:
    _, headers, _ = _request(gateway, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get")
    generated = headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert echo.last().headers["x-request-id"] == [generated]

    _, headers, _ = _request(gateway, "GET", "/api/mlflow/x", headers={"X-Request-ID": "abc-123"})
    assert headers["x-request-id"] == "abc-123"
    assert echo.last().headers["x-request-id"] == ["abc-123"]

    _, headers, _ = _request(gateway, "GET", "/api/mlflow/x", headers={"X-Request-ID": "a b{}"})
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


def test_upstream_hop_by_hop_response_headers_are_dropped(gateway: str) -> None:
    status, headers, body = _request(gateway, "GET", "/api/mlflow/anything")
    assert status == 200 and json.loads(body)["path"] == "/anything"
    assert "x-upstream-private" not in headers
    assert "keep-alive" not in headers


def test_upstream_header_values_reach_the_caller_byte_for_byte(gateway: str) -> None:
    answer = _raw(gateway, b"GET /api/mlflow/utf8-header HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"\r\nContent-Disposition: " + UTF8_DISPOSITION + b"\r\n" in answer


@pytest.mark.parametrize(
    "path",
    [
        "/api/mlflow/../../etc/passwd",
        "/api/mlflow/%2e%2e/%2e%2e/etc/passwd",
        "/api/mlflow//evil.example/version",
        "/api/mlflow/a%2f..%2f..%2fb",
        "/api/mlflow/%252e%252e/admin",
    ],
)
def test_path_escapes_are_rejected_before_reaching_the_upstream(
    gateway: str, echo: EchoUpstream, path: str
) -> None:
    before = len(echo.received)
    status, headers, body = _request(gateway, "GET", path)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error_code"] == "BAD_REQUEST"
    assert len(echo.received) == before


def test_absolute_form_targets_cannot_choose_the_upstream(gateway: str, echo: EchoUpstream) -> None:
    before = len(echo.received)
    answer = _raw(
        gateway,
        b"GET http://169.254.169.254/api/mlflow/version HTTP/1.1\r\n"
        b"Host: 169.254.169.254\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400")
    assert b'"error_code": "BAD_REQUEST"' in answer
    assert len(echo.received) == before


def test_an_html_404_from_the_upstream_becomes_json(gateway: str) -> None:
    status, headers, body = _request(gateway, "GET", "/api/mlflow/html404/unknown")
    assert status == 404
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error_code"] == "ENDPOINT_NOT_FOUND"


def test_a_silent_upstream_is_a_json_504_once_the_read_timeout_is_up(gateway: str) -> None:
    started = time.monotonic()
    status, _, body = _request(gateway, "GET", "/api/mlflow/slow")
    waited = time.monotonic() - started
    assert status == 504
    assert json.loads(body)["error_code"] == "GATEWAY_TIMEOUT"
    # HOKUSAI_UPSTREAM_READ_TIMEOUT is 1 s here, and waits are checked every quarter of it.
    assert 1.0 <= waited < 1.5


def test_a_chunked_json_body_is_forwarded_with_a_content_length(
    gateway: str, echo: EchoUpstream
) -> None:
    payload = json.dumps({"name": "x" * 5000}).encode()
    chunks = (payload[i : i + 1000] for i in range(0, len(payload), 1000))
    status, _, body = _request(
        gateway,
        "POST",
        "/api/mlflow/api/2.0/mlflow/experiments/create",
        headers={"Content-Type": "application/json"},
        body=chunks,  # type: ignore[arg-type]  # an iterable body is sent chunked
    )
    assert status == 200, body
    assert json.loads(body)["body_length"] == len(payload)
    seen = echo.last()
    assert seen.headers["content-length"] == [str(len(payload))]
    assert seen.body == payload


def test_a_chunked_artifact_upload_streams_through_chunked(
    gateway: str, echo: EchoUpstream
) -> None:
    blocks = [bytes([i]) * 65536 for i in range(32)]
    status, _, _ = _request(
        gateway,
        "PUT",
        "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/blob.bin",
        body=iter(blocks),  # type: ignore[arg-type]  # an iterable body is sent chunked
    )
    assert status == 200
    seen = echo.last()
    assert seen.headers["transfer-encoding"] == ["chunked"]
    assert seen.body == b"".join(blocks)


def test_gateway_errors_are_json_in_mlflow_shape(gateway: str) -> None:
    for method, path, expected in [
        ("GET", "/no/such/route", 404),
        ("POST", "/health", 405),
    ]:
        status, headers, body = _request(gateway, method, path)
        assert status == expected
        assert headers["content-type"].startswith("application/json")
        assert set(json.loads(body)) == {"error_code", "message"}


def test_a_burst_of_health_checks_costs_one_probe(gateway: str, echo: EchoUpstream) -> None:
    import time

    time.sleep(1.1)  # let any cached probe expire
    before = echo.count("/health")
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(_request(gateway, "GET", "/health")[0]))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert echo.count("/health") - before == 1


def test_health_reports_the_dependency(gateway: str, echo: EchoUpstream) -> None:
    status, _, body = _request(gateway, "GET", "/health")
    report = json.loads(body)
    assert status == 200 and report["status"] == "healthy"
    mlflow = report["dependencies"]["mlflow"]
    assert mlflow["status"] == "healthy"
    assert mlflow["version"] == "9.9.9"
    assert mlflow["endpoint"] == echo.url
    assert isinstance(mlflow["latency_ms"], float)


def test_every_request_is_one_json_access_log_line(echo_gateway: tuple[str, Server]) -> None:
    gateway, server = echo_gateway
    _request(gateway, "GET", "/api/mlflow/logged/path", headers={"X-Request-ID": "log-probe-1"})
    lines = [json.loads(line) for line in server.log_lines_with("log-probe-1")]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["logger"] == "hokusai.access"
    assert entry["method"] == "GET" and entry["path"] == "/api/mlflow/logged/path"
    assert entry["status"] == 200 and entry["bytes_out"] > 0
    assert entry["upstream"] == urlsplit(server.env["MLFLOW_SERVER_URL"]).netloc
    assert entry["ms"] >= 0


def test_an_answer_cut_short_is_a_502_and_the_request_is_not_sent_twice(
    gateway: str, echo: EchoUpstream
) -> None:
    # The POST goes out on the pooled connection this GET leaves idle: a reused connection that
    # closes before any answer may be retried on a new one, but this one had begun to answer.
    assert _request(gateway, "GET", "/api/mlflow/before-truncated")[0] == 200
    status, _, body = _request(gateway, "POST", "/api/mlflow/truncated")
    assert status == 502 and json.loads(body)["error_code"] == "BAD_GATEWAY"
    assert echo.count("/truncated") == 1
