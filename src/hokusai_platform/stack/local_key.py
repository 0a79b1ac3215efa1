"""The local user's API key: created on the first `up`, kept in the data dir for the owner only.

The key is checked against the keys database on every start: a data dir whose database was
deleted or whose key was revoked gets a new key instead of one the gateway would refuse.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hokusai_platform.keys.database import DatabaseURLError
from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.sessions import SessionStore
from hokusai_platform.keys.store import KeyInfo, KeyStore

# Generous: the MLflow client logs metrics one request at a time.
LOCAL_RATE = Rate(limit=100, period_seconds=1)


class LocalKeyError(Exception):
    pass


@contextmanager
def _keys_database(database_url: str) -> Iterator[KeyStore]:
    """The keys database, open; its failures as one line naming it (without a password)."""
    try:
        store = KeyStore.open(database_url)
        try:
            yield store
        finally:
            store.close()
    except (SQLAlchemyError, DatabaseURLError) as exc:
        first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        safe_url = make_url(database_url).render_as_string(hide_password=True)
        raise LocalKeyError(f"keys database {safe_url}: {first_line}") from None


def ensure_local_key(key_file: Path, database_url: str) -> str:
    with _keys_database(database_url) as store:
        return _ensure(key_file, store)


def login_link_token(key_file: Path, database_url: str) -> tuple[KeyInfo, str]:
    """The local key, and a one-time login link token for it (usable within 60 s)."""
    secret = read_key(key_file)
    if secret is None:
        raise LocalKeyError(f"no local key in {key_file}: start the stack with `hokusai up`")
    with _keys_database(database_url) as store:
        key = store.find(secret)
        if key is None or key.revoked:
            raise LocalKeyError(
                f"the key in {key_file} is unknown or revoked: `hokusai up` makes a new one"
            )
        return key, SessionStore(store.engine).create_link(key, secret)


def _ensure(key_file: Path, store: KeyStore) -> str:
    kept = read_key(key_file)
    if kept is not None:
        key = store.find(kept)
        if key is not None and not key.revoked:
            return kept
    issued = store.create(f"local-{getpass.getuser()}", Scope.ADMIN, LOCAL_RATE)
    partial = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as sink:
        sink.write(issued.secret + "\n")
    partial.replace(key_file)
    return issued.secret


def read_key(key_file: Path) -> str | None:
    try:
        return key_file.read_text().strip() or None
    except FileNotFoundError:
        return None
