"""The shape of an API key, and the only form of it that is ever stored.

A key is `hk_live_` followed by 43 URL-safe characters from `secrets.token_urlsafe(32)`, i.e.
256 bits of randomness. Only its SHA-256 digest is stored. A slow password hash (bcrypt,
argon2) exists to make guessing *low-entropy* secrets expensive; against 256 random bits a
guess is already hopeless, so a fast digest loses nothing and keeps a cold lookup well under a
millisecond (MLflow's basic-auth app spent 50-100 ms per request hashing passwords).

The first characters of the random part are stored in the clear as an indexed `lookup`
column: they find the candidate row without revealing anything usable (72 of 256 bits).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "hk_live_"
RANDOM_BYTES = 32
LOOKUP_CHARS = 12
_RANDOM_CHARS = 43  # len(secrets.token_urlsafe(32))
_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(RANDOM_BYTES)


def is_well_formed(candidate: str) -> bool:
    random_part = candidate[len(PREFIX) :]
    return (
        candidate.startswith(PREFIX)
        and len(random_part) == _RANDOM_CHARS
        and _URLSAFE.issuperset(random_part)
    )


@dataclass(frozen=True, slots=True)
class Presented:
    """A well-formed key as presented: checked and digested once, then only this is passed on."""

    lookup: str
    digest: str


def parse(candidate: str) -> Presented | None:
    """The presented form of `candidate`, or None if it cannot be a key."""
    if not is_well_formed(candidate):
        return None
    return Presented(lookup_of(candidate), digest_of(candidate))


def lookup_of(secret: str) -> str:
    return secret[len(PREFIX) : len(PREFIX) + LOOKUP_CHARS]


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def digests_match(presented: str, stored: str) -> bool:
    return hmac.compare_digest(presented.encode(), stored.encode())
