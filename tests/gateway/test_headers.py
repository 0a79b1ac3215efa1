from __future__ import annotations

from hokusai_platform.gateway.headers import downstream_fields, upstream_fields


def _incoming(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in pairs]


def _upstream_fields(
    fields: list[tuple[bytes, bytes]], *, request_id: str, client_ip: str | None, scheme: str
) -> bytes:
    names = [name.lower() for name, _ in fields]
    return upstream_fields(fields, names, request_id=request_id, client_ip=client_ip, scheme=scheme)


def _downstream_fields(fields: list[tuple[bytes, bytes]]) -> bytes:
    return downstream_fields(fields, [name.lower() for name, _ in fields])


def _lines(block: bytes) -> list[tuple[str, str]]:
    assert block.endswith(b"\r\n")
    fields = [line.split(b": ", 1) for line in block[:-2].split(b"\r\n")]
    return [(name.decode(), value.decode()) for name, value in fields]


def test_credentials_hop_by_hop_and_connection_named_fields_are_dropped() -> None:
    out = _upstream_fields(
        _incoming(
            ("Host", "registry.hokus.ai"),
            ("Authorization", "Bearer hk_live_secret"),
            ("X-API-Key", "hk_live_secret"),
            ("Cookie", "session=1"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Connection", "keep-alive, X-Private"),
            ("X-Private", "per-hop"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Upgrade", "h2c"),
            ("Origin", "https://registry.hokus.ai"),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ),
        request_id="rid-1",
        client_ip="192.0.2.7",
        scheme="https",
    )
    # Host is the endpoint's, written by the upstream client for each endpoint it tries.
    assert _lines(out) == [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
        ("X-Request-ID", "rid-1"),
        ("X-Forwarded-For", "192.0.2.7"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "registry.hokus.ai"),
    ]


def test_forwarding_headers_from_a_load_balancer_are_extended_not_replaced() -> None:
    out = _lines(
        _upstream_fields(
            _incoming(
                ("X-Forwarded-For", "203.0.113.9"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "registry.hokus.ai"),
                ("Host", "internal-alb:8001"),
            ),
            request_id="r",
            client_ip="10.0.0.5",
            scheme="http",
        )
    )
    assert ("X-Forwarded-For", "203.0.113.9, 10.0.0.5") in out
    assert ("X-Forwarded-Proto", "https") in out
    assert ("X-Forwarded-Host", "registry.hokus.ai") in out
    assert ("X-Forwarded-Proto", "http") not in out
    assert [name for name, _ in out].count("X-Forwarded-Host") == 1


def test_a_field_the_connection_header_names_is_dropped_even_when_it_carries_forwarding() -> None:
    out = _lines(
        _upstream_fields(
            _incoming(
                ("Host", "registry.hokus.ai"),
                ("X-Forwarded-Proto", "gopher"),
                ("Connection", "X-Forwarded-Proto"),
            ),
            request_id="r",
            client_ip=None,
            scheme="https",
        )
    )
    assert out == [
        ("X-Request-ID", "r"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "registry.hokus.ai"),
    ]


def test_values_are_forwarded_byte_for_byte() -> None:
    value = "caf\u00e9 \u2603".encode()
    out = _upstream_fields(
        [(b"X-Note", value), (b"X-Latin", b"\xe9t\xe9")],
        request_id="r",
        client_ip=None,
        scheme="http",
    )
    assert out.startswith(b"X-Note: " + value + b"\r\nX-Latin: \xe9t\xe9\r\n")


def test_response_hop_by_hop_fields_and_what_the_gateway_sets_are_dropped() -> None:
    out = _downstream_fields(
        [
            (b"Content-Type", b"application/json"),
            (b"Content-Length", b"12"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Connection", b"close, X-Hop"),
            (b"X-Hop", b"1"),
            (b"Set-Cookie", b"mlflow=1"),
            (b"X-Request-ID", b"mlflow-made"),
            (b"RateLimit-Remaining", b"1000"),
            (b"date", b"Fri, 27 Nov 2026 10:00:00 GMT"),
            (b"X-Content-Type-Options", b"nosniff"),
        ]
    )
    assert out == (
        b"Content-Type: application/json\r\n"
        b"Content-Length: 12\r\n"
        b"X-Content-Type-Options: nosniff\r\n"
    )
