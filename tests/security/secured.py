"""Keys and environments for gateways that enforce keys, shared by the security tests."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.store import KeyStore

GENEROUS = Rate(100_000, 60)


@dataclass
class Keys:
    """A keys database with one key of each kind, and the store to make more."""

    database_url: str
    store: KeyStore
    read: str
    write: str
    admin: str
    expired: str
    revoked: str


def secured_env(keys: Keys, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a gateway that enforces keys and rate limits."""
    return {
        "HOKUSAI_AUTH": "required",
        "HOKUSAI_DATABASE_URL": keys.database_url,
        "REDIS_URL": redis_url,
        **extra,
    }


def request(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()
