"""The keys, in SQL: create, list, revoke, rotate, limit, and find the key a caller presented.

Every method is synchronous and short; the gateway calls `find` from a thread pool so the
database never blocks its event loop.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hokusai_platform.keys import database, tokens
from hokusai_platform.keys.models import ApiKey
from hokusai_platform.keys.rates import DEFAULT_RATE, Rate
from hokusai_platform.keys.scopes import Scope


class UnknownKey(LookupError):
    pass


class KeyRevoked(UnknownKey):
    """The key exists, but is revoked: it can no longer be changed, only listed."""


@dataclass(frozen=True)
class KeyInfo:
    """Everything about a key except its secret."""

    id: str
    name: str
    scope: Scope
    rate: Rate
    lookup: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyInfo:
        return cls(
            id=row.id,
            name=row.name,
            scope=Scope(row.scope),
            rate=Rate(row.rate_limit, row.rate_period_seconds),
            lookup=row.lookup,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            rotated_at=row.rotated_at,
        )

    @property
    def prefix(self) -> str:
        return tokens.PREFIX + self.lookup

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> dict[str, object]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat(timespec="seconds")

        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope.value,
            "rate_limit": str(self.rate),
            "prefix": self.prefix,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "rotated_at": iso(self.rotated_at),
        }


@dataclass(frozen=True)
class IssuedKey:
    """A key just created or rotated: the only moment its secret exists outside the caller."""

    info: KeyInfo
    secret: str


def _now() -> datetime:
    return datetime.now(UTC)


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> KeyStore:
        """Connect and bring the schema up to date."""
        engine = database.create(url)
        database.migrate(engine)
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def create(
        self, name: str, scope: Scope, rate: Rate, expires_at: datetime | None = None
    ) -> IssuedKey:
        secret = tokens.new_secret()
        row = ApiKey(
            id="key_" + secrets.token_hex(8),
            name=name,
            scope=scope.value,
            lookup=tokens.lookup_of(secret),
            secret_sha256=tokens.digest_of(secret),
            rate_limit=rate.limit,
            rate_period_seconds=rate.period_seconds,
            created_at=_now(),
            expires_at=expires_at,
        )
        with self._sessions.begin() as session:
            session.add(row)
        return IssuedKey(KeyInfo.of(row), secret)

    def list(self) -> Sequence[KeyInfo]:
        with self._sessions() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
            return [KeyInfo.of(row) for row in rows]

    def get(self, key_id: str) -> KeyInfo:
        with self._sessions() as session:
            return KeyInfo.of(self._row(session, key_id))

    def revoke(self, key_id: str) -> KeyInfo:
        with self._sessions.begin() as session:
            row = self._row(session, key_id)
            if row.revoked_at is None:
                row.revoked_at = _now()
            return KeyInfo.of(row)

    def set_rate(self, key_id: str, rate: Rate) -> KeyInfo:
        """A new rate limit for the key; gateways apply it from their next lookup of the key."""
        with self._sessions.begin() as session:
            row = self._changeable_row(session, key_id)
            row.rate_limit, row.rate_period_seconds = rate.limit, rate.period_seconds
            return KeyInfo.of(row)

    def clear_rate(self, key_id: str) -> KeyInfo:
        """Back to the rate limit a new key gets."""
        return self.set_rate(key_id, DEFAULT_RATE)

    def rotate(self, key_id: str) -> IssuedKey:
        """A new secret for the same key id, scope and limits; the old secret stops working."""
        secret = tokens.new_secret()
        with self._sessions.begin() as session:
            row = self._changeable_row(session, key_id)
            row.lookup = tokens.lookup_of(secret)
            row.secret_sha256 = tokens.digest_of(secret)
            row.rotated_at = _now()
            return IssuedKey(KeyInfo.of(row), secret)

    def find(self, secret: str) -> KeyInfo | None:
        """The key whose secret this is, revoked or expired ones included; None if there is none."""
        if not tokens.is_well_formed(secret):
            return None
        digest = tokens.digest_of(secret)
        with self._sessions() as session:
            candidates = session.scalars(
                select(ApiKey).where(ApiKey.lookup == tokens.lookup_of(secret))
            )
            for row in candidates:
                if tokens.digests_match(digest, row.secret_sha256):
                    return KeyInfo.of(row)
        return None

    @staticmethod
    def _row(session: Session, key_id: str) -> ApiKey:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise UnknownKey(f"no key with id {key_id!r} (see `hokusai keys list`)")
        return row

    @classmethod
    def _changeable_row(cls, session: Session, key_id: str) -> ApiKey:
        row = cls._row(session, key_id)
        if row.revoked_at is not None:
            raise KeyRevoked(f"key {key_id} is revoked; create a new one instead")
        return row
