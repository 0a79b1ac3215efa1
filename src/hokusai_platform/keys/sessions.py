"""Browser sessions and one-time login links, in SQL, beside the keys they stand for.

A session is opened with a key and stands for it: a request that carries the session's id is
that key's request, with its scope and limits. It ends at logout, when it has been idle too
long, at its absolute expiry, and as soon as its key is revoked or rotated (the session
records which secret opened it). A session id has a key's shape (`hk_live_` + 256 random
bits) and, like a key, is stored only as its SHA-256: whoever reads the database cannot use
what it holds.

A login link is a one-time way to open a session with a key without pasting it: redeemed once,
within its short life (60 s), it opens a session for the key that made it.

Every method is synchronous and short; the gateway calls them from threads.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, ForeignKey, Integer, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker
from sqlalchemy.orm import Session as Transaction

from hokusai_platform.keys import tokens
from hokusai_platform.keys.access import Access
from hokusai_platform.keys.grant_store import load_access
from hokusai_platform.keys.models import ApiKey, Base, UTCDateTime
from hokusai_platform.keys.store import Caller, KeyInfo

LINK_SECONDS = 60
# A session's idle deadline moves on at most this often (or a tenth of the idle time, if
# shorter): a busy page costs a write a minute, not one a request.
TOUCH_SECONDS = 60.0


class LoginSession(Base):
    __tablename__ = "login_sessions"

    secret_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), ForeignKey("api_keys.id"))
    key_sha256: Mapped[str] = mapped_column(String(64))  # the secret that opened it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idle_seconds: Mapped[int] = mapped_column(Integer)
    idle_until: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginLink(Base):
    __tablename__ = "login_links"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), ForeignKey("api_keys.id"))
    key_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionStore:
    """Sessions and links in the keys database, whose engine (a `KeyStore`'s) it shares."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._transactions = sessionmaker(engine, expire_on_commit=False)

    def open(
        self, key_id: str, key_secret: str, *, idle_seconds: int, lifetime_seconds: int
    ) -> str:
        """A new session for the key `key_secret` (whose id is `key_id`); returns its id."""
        with self._transactions.begin() as transaction:
            return self._open(
                transaction, key_id, tokens.digest_of(key_secret), idle_seconds, lifetime_seconds
            )

    @staticmethod
    def _open(
        transaction: Transaction,
        key_id: str,
        key_sha256: str,
        idle_seconds: int,
        lifetime_seconds: int,
    ) -> str:
        now = datetime.now(UTC)
        # Sessions that ended without a logout are removed by the next login.
        transaction.execute(
            delete(LoginSession).where(
                or_(LoginSession.expires_at <= now, LoginSession.idle_until <= now)
            )
        )
        secret = tokens.new_secret()
        transaction.add(
            LoginSession(
                secret_sha256=tokens.digest_of(secret),
                key_id=key_id,
                key_sha256=key_sha256,
                created_at=now,
                expires_at=now + timedelta(seconds=lifetime_seconds),
                idle_seconds=idle_seconds,
                idle_until=now + timedelta(seconds=idle_seconds),
            ),
        )
        return secret

    def identify(self, presented: tokens.Presented, known: Access | None = None) -> Caller | None:
        """The key a live session stands for, with its `Access` (`known` itself if no grant
        changed since), revoked or expired keys included as `KeyStore.identify` answers them;
        None for an unknown, ended or expired session, or one whose key was rotated since it
        was opened. Moves the session's idle deadline on."""
        now = datetime.now(UTC)
        with self._transactions.begin() as transaction:
            # Found by its whole digest: unlike a key's, no part of a session id is stored.
            found = transaction.execute(
                select(LoginSession, ApiKey)
                .join(ApiKey, ApiKey.id == LoginSession.key_id)
                .where(LoginSession.secret_sha256 == presented.digest)
            ).first()
            if found is None:
                return None
            session, key = found
            if (
                key.secret_sha256 != session.key_sha256
                or now >= session.expires_at
                or now >= session.idle_until
            ):
                transaction.delete(session)
                return None
            idle = timedelta(seconds=session.idle_seconds)
            touch = timedelta(seconds=min(TOUCH_SECONDS, session.idle_seconds / 10))
            if now + idle - session.idle_until >= touch:
                session.idle_until = now + idle
            return Caller(KeyInfo.of(key), load_access(transaction, key, known))

    def end(self, secret: str) -> None:
        """Log out: the session is gone (ending an unknown one is not an error)."""
        with self._transactions.begin() as transaction:
            transaction.execute(
                delete(LoginSession).where(LoginSession.secret_sha256 == tokens.digest_of(secret))
            )

    def create_link(self, key: KeyInfo, key_secret: str, valid_seconds: int = LINK_SECONDS) -> str:
        """A one-time login link token for `key` (whose secret is `key_secret`)."""
        token = secrets.token_urlsafe(tokens.RANDOM_BYTES)
        with self._transactions.begin() as transaction:
            transaction.add(
                LoginLink(
                    token_sha256=tokens.digest_of(token),
                    key_id=key.id,
                    key_sha256=tokens.digest_of(key_secret),
                    expires_at=datetime.now(UTC) + timedelta(seconds=valid_seconds),
                )
            )
        return token

    def redeem_link(self, token: str, *, idle_seconds: int, lifetime_seconds: int) -> str | None:
        """A new session for the key of an unused, unexpired link, which is used up by this;
        None if there is no such link."""
        now = datetime.now(UTC)
        digest = tokens.digest_of(token)
        with self._transactions.begin() as transaction:
            # Marked used only if it was not: of two redemptions racing, one wins.
            claimed = transaction.execute(
                update(LoginLink)
                .where(
                    LoginLink.token_sha256 == digest,
                    LoginLink.used_at.is_(None),
                    LoginLink.expires_at > now,
                )
                .values(used_at=now)
                .returning(LoginLink.key_id, LoginLink.key_sha256)
            ).first()
            if claimed is None:
                return None
            key_id, key_sha256 = claimed
            return self._open(transaction, key_id, key_sha256, idle_seconds, lifetime_seconds)
