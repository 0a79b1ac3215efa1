"""Browser sessions and login links in the keys database, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from hokusai_platform.keys import tokens
from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.sessions import LoginSession, SessionStore
from hokusai_platform.keys.store import IssuedKey, KeyInfo, KeyStore

RATE = Rate(600, 60)
HOUR = 3600


@pytest.fixture
def sessions(store: KeyStore) -> SessionStore:
    return SessionStore(store.engine)


@pytest.fixture
def issued(store: KeyStore) -> IssuedKey:
    return store.create("browser", Scope.WRITE, RATE)


def key_of(sessions: SessionStore, secret: str) -> KeyInfo | None:
    """The key the session `secret` stands for, as the gateway's Authenticator asks."""
    presented = tokens.parse(secret)
    caller = None if presented is None else sessions.identify(presented)
    return None if caller is None else caller.key


def _live_rows(sessions: SessionStore) -> int:
    with sessions.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(LoginSession)).scalar_one())


def test_a_session_stands_for_its_key_and_only_its_digest_is_stored(
    sessions: SessionStore, issued: IssuedKey
) -> None:
    secret = sessions.open(issued.info.id, issued.secret, idle_seconds=HOUR, lifetime_seconds=HOUR)
    assert tokens.is_well_formed(secret) and secret != issued.secret
    key = key_of(sessions, secret)
    assert key is not None and key.id == issued.info.id and key.scope is Scope.WRITE
    assert key.rate == RATE
    with sessions.engine.connect() as connection:
        stored = connection.execute(select(LoginSession.secret_sha256)).scalars().all()
    assert stored == [tokens.digest_of(secret)]
    assert key_of(sessions, tokens.new_secret()) is None
    assert key_of(sessions, "not-a-session") is None


def test_a_session_ends_at_logout(sessions: SessionStore, issued: IssuedKey) -> None:
    secret = sessions.open(issued.info.id, issued.secret, idle_seconds=HOUR, lifetime_seconds=HOUR)
    sessions.end(secret)
    assert key_of(sessions, secret) is None
    sessions.end(secret)  # again: nothing to end, no error


def test_a_session_of_a_revoked_key_finds_the_key_revoked(
    store: KeyStore, sessions: SessionStore, issued: IssuedKey
) -> None:
    secret = sessions.open(issued.info.id, issued.secret, idle_seconds=HOUR, lifetime_seconds=HOUR)
    store.revoke(issued.info.id)
    key = key_of(sessions, secret)
    assert key is not None and key.revoked  # the Authenticator refuses it, as the key itself


def test_rotating_the_key_ends_its_sessions(
    store: KeyStore, sessions: SessionStore, issued: IssuedKey
) -> None:
    secret = sessions.open(issued.info.id, issued.secret, idle_seconds=HOUR, lifetime_seconds=HOUR)
    rotated = store.rotate(issued.info.id)
    assert key_of(sessions, secret) is None
    again = sessions.open(issued.info.id, rotated.secret, idle_seconds=HOUR, lifetime_seconds=HOUR)
    assert key_of(sessions, again) is not None


def test_an_idle_session_expires_and_a_used_one_lives_on(
    sessions: SessionStore, issued: IssuedKey
) -> None:
    used = sessions.open(issued.info.id, issued.secret, idle_seconds=1, lifetime_seconds=HOUR)
    idle = sessions.open(issued.info.id, issued.secret, idle_seconds=1, lifetime_seconds=HOUR)
    for _ in range(6):  # 1.5 s in all, longer than the idle time
        time.sleep(0.25)
        assert key_of(sessions, used) is not None
    assert key_of(sessions, idle) is None


def test_a_session_expires_at_its_lifetime_however_busy(
    sessions: SessionStore, issued: IssuedKey
) -> None:
    secret = sessions.open(issued.info.id, issued.secret, idle_seconds=1, lifetime_seconds=1)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        if key_of(sessions, secret) is None:
            break
        time.sleep(0.1)
    assert key_of(sessions, secret) is None


def test_ended_sessions_are_removed_by_the_next_login(
    sessions: SessionStore, issued: IssuedKey
) -> None:
    for _ in range(3):
        sessions.open(issued.info.id, issued.secret, idle_seconds=1, lifetime_seconds=1)
    time.sleep(1.1)
    sessions.open(issued.info.id, issued.secret, idle_seconds=HOUR, lifetime_seconds=HOUR)
    assert _live_rows(sessions) == 1


def test_a_login_link_works_once(sessions: SessionStore, issued: IssuedKey) -> None:
    token = sessions.create_link(issued.info, issued.secret)
    assert issued.secret not in token and not tokens.is_well_formed(token)
    secret = sessions.redeem_link(token, idle_seconds=HOUR, lifetime_seconds=HOUR)
    assert secret is not None
    key = key_of(sessions, secret)
    assert key is not None and key.id == issued.info.id
    assert sessions.redeem_link(token, idle_seconds=HOUR, lifetime_seconds=HOUR) is None
    assert sessions.redeem_link("unknown", idle_seconds=HOUR, lifetime_seconds=HOUR) is None


def test_a_login_link_expires(sessions: SessionStore, issued: IssuedKey) -> None:
    token = sessions.create_link(issued.info, issued.secret, valid_seconds=1)
    time.sleep(1.1)
    assert sessions.redeem_link(token, idle_seconds=HOUR, lifetime_seconds=HOUR) is None


def test_a_link_made_before_a_rotation_opens_no_live_session(
    store: KeyStore, sessions: SessionStore, issued: IssuedKey
) -> None:
    token = sessions.create_link(issued.info, issued.secret)
    store.rotate(issued.info.id)
    secret = sessions.redeem_link(token, idle_seconds=HOUR, lifetime_seconds=HOUR)
    assert secret is None or key_of(sessions, secret) is None
