"""Header hygiene between caller, gateway and MLflow (RFC 9110 section 7.6.1).

The tables are built once; the per-request work is one pass over the incoming headers, as
bytes as they arrived on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence

# Connection-specific fields: meaningful for one hop only, never forwarded.
HOP_BY_HOP = frozenset(
    name.lower()
    for name in (
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)
# What authenticates the caller to the gateway stays at the gateway.
CREDENTIALS = frozenset(("authorization", "x-api-key", "cookie"))
# Replaced by the gateway: Host names the upstream; Origin would make MLflow refuse writes
# (the gateway, not MLflow, is the CORS boundary); Expect is answered by the gateway itself;
# Content-Length is set by the upstream client from the body it actually sends.
REPLACED = frozenset(
    ("host", "origin", "expect", "x-request-id", "x-forwarded-for", "content-length")
)

# Set by the gateway on every answer it gives, replacing any the upstream sent: the request
# id, and the caller's rate limit (the gateway, not MLflow, is the rate-limit boundary).
GATEWAY_SET = frozenset(
    ("x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
)

_DROP_UPSTREAM = frozenset(name.encode() for name in HOP_BY_HOP | CREDENTIALS | REPLACED)
_DROP_DOWNSTREAM = frozenset(name.encode() for name in HOP_BY_HOP | GATEWAY_SET | {"set-cookie"})


def _declared_hop_by_hop(values: list[bytes]) -> set[bytes]:
    """The field names a sender's Connection header declares hop-by-hop, lower-cased."""
    return {token.strip().lower() for value in values for token in value.split(b",")}


def upstream_fields(
    incoming: Sequence[tuple[bytes, bytes]],
    *,
    request_id: str,
    client_ip: str | None,
    scheme: str,
) -> bytes:
    """The header lines MLflow gets for a request, from the caller's as they arrived on the wire.

    Every line ends with CRLF. Host is not among them: it names the endpoint, which the
    upstream client sets for each one it tries. Kept fields pass through as the caller sent
    them, byte for byte.
    """
    kept: list[tuple[bytes, bytes, bytes]] = []  # (lower-cased name, name, value)
    host = forwarded_for = None
    connection: list[bytes] = []
    for name, value in incoming:
        lowered = name.lower()
        if lowered not in _DROP_UPSTREAM:
            kept.append((lowered, name, value))
        elif lowered == b"host":
            host = value if host is None else host
        elif lowered == b"x-forwarded-for":
            forwarded_for = value if forwarded_for is None else forwarded_for
        elif lowered == b"connection":
            connection.append(value)
    if connection:
        declared = _declared_hop_by_hop(connection)
        kept = [field for field in kept if field[0] not in declared]
    lines = [b"%s: %s\r\n" % (name, value) for _, name, value in kept]
    kept_names = {lowered for lowered, _, _ in kept}
    lines.append(b"X-Request-ID: %s\r\n" % request_id.encode())
    if client_ip:
        client = client_ip.encode()
        chain = b"%s, %s" % (forwarded_for, client) if forwarded_for else client
        lines.append(b"X-Forwarded-For: %s\r\n" % chain)
    elif forwarded_for:
        lines.append(b"X-Forwarded-For: %s\r\n" % forwarded_for)
    if b"x-forwarded-proto" not in kept_names:
        lines.append(b"X-Forwarded-Proto: %s\r\n" % scheme.encode())
    if host is not None and b"x-forwarded-host" not in kept_names:
        lines.append(b"X-Forwarded-Host: %s\r\n" % host)
    return b"".join(lines)


def downstream_fields(incoming: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The caller's answer fields from the upstream's, as they arrived on the wire."""
    kept: list[tuple[bytes, bytes]] = []
    connection: list[bytes] = []
    for name, value in incoming:
        lowered = name.lower()
        if lowered == b"connection":
            connection.append(value)
        elif lowered not in _DROP_DOWNSTREAM:
            kept.append((name, value))
    if connection:
        declared = _declared_hop_by_hop(connection)
        kept = [(name, value) for name, value in kept if name.lower() not in declared]
    return kept
