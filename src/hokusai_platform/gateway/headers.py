"""Header hygiene between caller, gateway and MLflow (RFC 9110 section 7.6.1).

The tables are built once; the per-request work is one pass over the incoming headers.
"""

from __future__ import annotations

from collections.abc import Sequence

from multidict import CIMultiDict, MultiMapping

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

_DROP_UPSTREAM = HOP_BY_HOP | CREDENTIALS | REPLACED
_DROP_DOWNSTREAM = frozenset(name.encode() for name in HOP_BY_HOP | {"set-cookie", "x-request-id"})


def _filtered(incoming: MultiMapping[str], drop: frozenset[str]) -> CIMultiDict[str]:
    if "Connection" in incoming:
        # Extra field names the sender declared hop-by-hop are dropped as well.
        values = incoming.getall("Connection")
        drop = drop | {token.strip().lower() for value in values for token in value.split(",")}
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        if name.lower() not in drop:
            out.add(name, value)
    return out


def upstream_headers(
    incoming: MultiMapping[str],
    *,
    host: str,
    request_id: str,
    client_ip: str | None,
    scheme: str,
) -> CIMultiDict[str]:
    out = _filtered(incoming, _DROP_UPSTREAM)
    out["Host"] = host
    out["X-Request-ID"] = request_id
    previous = incoming.get("X-Forwarded-For")
    if client_ip:
        out["X-Forwarded-For"] = f"{previous}, {client_ip}" if previous else client_ip
    elif previous:
        out["X-Forwarded-For"] = previous
    out.setdefault("X-Forwarded-Proto", scheme)
    if "X-Forwarded-Host" not in out and "Host" in incoming:
        out["X-Forwarded-Host"] = incoming["Host"]
    return out


def downstream_headers(incoming: Sequence[tuple[bytes, bytes]]) -> CIMultiDict[str]:
    """The caller's response headers from the upstream's, as they arrived on the wire."""
    out: CIMultiDict[str] = CIMultiDict()
    declared: list[bytes] = []  # fields the upstream's Connection header names hop-by-hop
    for name, value in incoming:
        lowered = name.lower()
        if lowered == b"connection":
            declared.extend(token.strip() for token in value.split(b","))
        elif lowered not in _DROP_DOWNSTREAM:
            out.add(name.decode("latin-1"), value.decode("latin-1"))
    for token in declared:
        out.popall(token.decode("latin-1"), None)
    return out
