"""Keys and environments for gateways that enforce keys, shared by the security tests."""

from __future__ import annotations

from dataclasses import dataclass

from hokusai_platform.keys.store import KeyStore
from hokusai_platform.ratelimit import Rate

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
