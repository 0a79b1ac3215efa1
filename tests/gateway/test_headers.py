from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from hokusai_platform.gateway.headers import downstream_headers, upstream_headers


def _incoming(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_credentials_hop_by_hop_and_connection_named_fields_are_dropped() -> None:
    out = upstream_headers(
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
        host="10.0.1.88:5000",
        request_id="rid-1",
        client_ip="192.0.2.7",
        scheme="https",
    )
    assert dict(out) == {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Host": "10.0.1.88:5000",
        "X-Request-ID": "rid-1",
        "X-Forwarded-For": "192.0.2.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "registry.hokus.ai",
    }


def test_forwarding_headers_from_a_load_balancer_are_extended_not_replaced() -> None:
    out = upstream_headers(
        _incoming(
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "registry.hokus.ai"),
            ("Host", "internal-alb:8001"),
        ),
        host="mlflow:5000",
        request_id="r",
        client_ip="10.0.0.5",
        scheme="http",
    )
    assert out["X-Forwarded-For"] == "203.0.113.9, 10.0.0.5"
    assert out["X-Forwarded-Proto"] == "https"
    assert out["X-Forwarded-Host"] == "registry.hokus.ai"


def test_response_hop_by_hop_fields_are_dropped_and_the_rest_kept() -> None:
    out = downstream_headers(
        [
            (b"Content-Type", b"application/json"),
            (b"Content-Length", b"12"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Connection", b"close, X-Hop"),
            (b"X-Hop", b"1"),
            (b"Set-Cookie", b"mlflow=1"),
            (b"X-Content-Type-Options", b"nosniff"),
        ]
    )
    assert dict(out) == {
        "Content-Type": "application/json",
        "Content-Length": "12",
        "X-Content-Type-Options": "nosniff",
    }
