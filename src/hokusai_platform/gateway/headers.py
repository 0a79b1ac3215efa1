"""Header hygiene between caller, gateway and MLflow (RFC 9110 section 7.6.1).

The tables are built once; the per-request work is one pass over the incoming headers, as
bytes as they arrived on the wire, beside their names in lower case (made once per message by
whoever parsed it).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import not_

from hokusai_platform.http import fields

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
# id, the caller's rate limit (the gateway, not MLflow, is the rate-limit boundary), and the
# Date (the gateway dates its answers, as nginx does).
GATEWAY_SET = frozenset(
    ("x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "date")
)

# Fields a request carries once at most, whatever their values: HTTP's own (Host and the
# body's framing), and the credentials, a second of which makes who is calling ambiguous.
SINGLE_FIELDS = (*fields.SINGLE_FIELDS, b"authorization", b"x-api-key")

_DROP_UPSTREAM = frozenset(name.encode() for name in HOP_BY_HOP | CREDENTIALS | REPLACED)
_DROP_DOWNSTREAM = frozenset(name.encode() for name in HOP_BY_HOP | GATEWAY_SET | {"set-cookie"})
# Passed on from the caller (a load balancer's are the truth), else set by the gateway.
_FORWARDED_KEPT = frozenset((b"x-forwarded-proto", b"x-forwarded-host"))
_NOTED_UPSTREAM = _DROP_UPSTREAM | _FORWARDED_KEPT
# Connection values that declare no field hop-by-hop, in lower case.
_PLAIN_CONNECTION = frozenset((b"keep-alive", b"close"))
_LINE = b"%s: %s\r\n".__mod__


def _declared_hop_by_hop(values: list[bytes], dropped: frozenset[bytes]) -> set[bytes]:
    """The field names a sender's Connection header declares hop-by-hop, lower-cased, but
    those in `dropped` anyway (`Connection: keep-alive` declares nothing more)."""
    if _PLAIN_CONNECTION.issuperset(map(bytes.lower, values)):  # what nearly every caller sends
        return set()
    return {token.strip().lower() for value in values for token in value.split(b",")} - dropped


def _without(
    fields: Sequence[tuple[bytes, bytes]], names: Sequence[bytes], declared: set[bytes]
) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """`fields` (and their `names`) without those `declared` hop-by-hop, and without Connection,
    which declared them."""
    dropped = declared | {b"connection"}
    kept = [(field, name) for field, name in zip(fields, names, strict=True) if name not in dropped]
    return [field for field, _ in kept], [name for _, name in kept]


def _lines_but(
    fields: Sequence[tuple[bytes, bytes]], names: Sequence[bytes], dropped: frozenset[bytes]
) -> bytes:
    """The header lines of `fields` whose names are not in `dropped`, each ending CRLF.

    Selected and formatted by C loops (itertools, map): no Python runs per field."""
    return b"".join(map(_LINE, compress(fields, map(not_, map(dropped.__contains__, names)))))


def upstream_fields(
    incoming: Sequence[tuple[bytes, bytes]],
    names: Sequence[bytes],
    *,
    request_id: str,
    client_ip: str | None,
    scheme: str,
) -> bytes:
    """The header lines MLflow gets for a request, from the caller's as they arrived on the wire.

    `names` are the fields' names in lower case, in order. Every line ends with CRLF. Host is
    not among them: it names the endpoint, which the upstream client sets for each one it
    tries. Kept fields pass through as the caller sent them, byte for byte.
    """
    lines = [_lines_but(incoming, names, _NOTED_UPSTREAM)]
    host = forwarded_for = None
    forwarded_kept: set[bytes] = set()
    connection: list[bytes] = []
    noted = compress(zip(names, incoming, strict=True), map(_NOTED_UPSTREAM.__contains__, names))
    for lowered, (name, value) in noted:
        if lowered in _FORWARDED_KEPT:
            lines.append(_LINE((name, value)))
            forwarded_kept.add(lowered)
        elif lowered == b"host":
            host = value if host is None else host
        elif lowered == b"x-forwarded-for":
            forwarded_for = value if forwarded_for is None else forwarded_for
        elif lowered == b"connection":
            connection.append(value)
    if connection and (declared := _declared_hop_by_hop(connection, _DROP_UPSTREAM)):
        kept, kept_names = _without(incoming, names, declared)
        return upstream_fields(
            kept, kept_names, request_id=request_id, client_ip=client_ip, scheme=scheme
        )
    lines.append(b"X-Request-ID: %s\r\n" % request_id.encode())
    if client_ip:
        client = client_ip.encode()
        chain = b"%s, %s" % (forwarded_for, client) if forwarded_for else client
        lines.append(b"X-Forwarded-For: %s\r\n" % chain)
    elif forwarded_for:
        lines.append(b"X-Forwarded-For: %s\r\n" % forwarded_for)
    if b"x-forwarded-proto" not in forwarded_kept:
        lines.append(b"X-Forwarded-Proto: %s\r\n" % scheme.encode())
    if host is not None and b"x-forwarded-host" not in forwarded_kept:
        lines.append(b"X-Forwarded-Host: %s\r\n" % host)
    return b"".join(lines)


def downstream_fields(incoming: Sequence[tuple[bytes, bytes]], names: Sequence[bytes]) -> bytes:
    """The caller's answer header lines from the upstream's, as they arrived on the wire.

    `names` are the fields' names in lower case, in order. Every line ends with CRLF.
    Content-Length passes: the parser that read the upstream's
    head admits one at most, and never beside Transfer-Encoding, and the body that follows it
    is passed on whole.
    """
    if b"connection" in names:
        pairs = zip(incoming, names, strict=True)
        connection = [field[1] for field, name in pairs if name == b"connection"]
        if declared := _declared_hop_by_hop(connection, _DROP_DOWNSTREAM):
            return downstream_fields(*_without(incoming, names, declared))
    return _lines_but(incoming, names, _DROP_DOWNSTREAM)
