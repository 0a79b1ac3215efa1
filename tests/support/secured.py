"""Keys and environments for gateways that enforce keys, shared by the security and browser
tests."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
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


def create_keys(directory: Path) -> Keys:
    """A keys database in `directory` with one key of each kind (the caller closes its store)."""
    url = f"sqlite:///{directory / 'keys.db'}"
    store = KeyStore.open(url)
    revoked = store.create("revoked", Scope.ADMIN, GENEROUS)
    store.revoke(revoked.info.id)
    return Keys(
        database_url=url,
        store=store,
        read=store.create("reader", Scope.READ, GENEROUS).secret,
        write=store.create("writer", Scope.WRITE, GENEROUS).secret,
        admin=store.create("admin", Scope.ADMIN, GENEROUS).secret,
        expired=store.create(
            "expired", Scope.ADMIN, GENEROUS, datetime.now(UTC) - timedelta(minutes=1)
        ).secret,
        revoked=revoked.secret,
    )


def secured_env(keys: Keys, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a gateway that enforces keys and rate limits."""
    return {
        "HOKUSAI_AUTH": "required",
        "HOKUSAI_DATABASE_URL": keys.database_url,
        "REDIS_URL": redis_url,
        **extra,
    }


def exchange(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10,
) -> tuple[int, Message, bytes]:
    """Status, header fields (repeated ones kept) and body of one request."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.msg, answer.read()
    finally:
        connection.close()


def request(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    """As `exchange`, with the header fields by lower-cased name, repeated ones combined with
    ", " as RFC 9110 section 5.3 allows (so one challenge per `WWW-Authenticate` line reads as
    the list it is)."""
    status, fields, answer = exchange(base, method, path, headers, body, timeout)
    combined: dict[str, str] = {}
    for name, value in fields.items():
        key = name.lower()
        combined[key] = f"{combined[key]}, {value}" if key in combined else value
    return status, combined, answer
