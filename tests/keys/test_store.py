"""The key store keeps only hashes and finds a key from its secret, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from hokusai_platform.keys import tokens
from hokusai_platform.keys.errors import KeyRevoked, UnknownKey
from hokusai_platform.keys.rates import DEFAULT_RATE, Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore

RATE = Rate(600, 60)


def test_a_new_key_is_hk_live_plus_256_random_bits(store: KeyStore) -> None:
    issued = store.create("ci", Scope.WRITE, RATE)
    assert issued.secret.startswith("hk_live_")
    assert len(issued.secret) - len("hk_live_") == 43, "token_urlsafe(32): 256 bits"
    assert tokens.is_well_formed(issued.secret)
    assert issued.secret != store.create("ci", Scope.WRITE, RATE).secret


def test_only_a_hash_of_the_secret_is_stored(store: KeyStore) -> None:
    issued = store.create("ci", Scope.READ, RATE)
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_keys")).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert issued.secret not in stored
    assert issued.secret[len("hk_live_") :] not in stored
    assert tokens.digest_of(issued.secret) in stored


def test_find_returns_the_key_for_its_secret_and_nothing_for_others(store: KeyStore) -> None:
    issued = store.create("training", Scope.ADMIN, Rate(10, 1))
    found = store.find(issued.secret)
    assert found is not None
    assert (found.id, found.name, found.scope, found.rate) == (
        issued.info.id,
        "training",
        Scope.ADMIN,
        Rate(10, 1),
    )
    tampered = issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")
    assert store.find(tampered) is None, "same lookup prefix, different secret"
    assert store.find(tokens.new_secret()) is None
    assert store.find("not-a-key") is None


def test_revoked_keys_are_found_but_marked(store: KeyStore) -> None:
    issued = store.create("ci", Scope.READ, RATE)
    store.revoke(issued.info.id)
    found = store.find(issued.secret)
    assert found is not None and found.revoked


def test_expiry_is_kept_as_an_aware_utc_time(store: KeyStore) -> None:
    expires_at = datetime.now(UTC) + timedelta(days=30)
    issued = store.create("ci", Scope.READ, RATE, expires_at)
    found = store.get(issued.info.id)
    assert found.expires_at is not None
    assert abs(found.expires_at - expires_at) < timedelta(seconds=1)
    assert not found.expired(datetime.now(UTC))
    assert found.expired(expires_at + timedelta(seconds=1))


def test_rotation_keeps_the_id_and_replaces_the_secret(store: KeyStore) -> None:
    issued = store.create("ci", Scope.WRITE, Rate(5, 1))
    rotated = store.rotate(issued.info.id)
    assert rotated.info.id == issued.info.id
    assert rotated.info.rotated_at is not None
    assert store.find(issued.secret) is None
    found = store.find(rotated.secret)
    assert found is not None and (found.scope, found.rate) == (Scope.WRITE, Rate(5, 1))


def test_a_revoked_key_cannot_be_rotated_back_to_life_nor_limited(store: KeyStore) -> None:
    issued = store.create("ci", Scope.WRITE, RATE)
    store.revoke(issued.info.id)
    with pytest.raises(KeyRevoked, match="revoked"):
        store.rotate(issued.info.id)
    with pytest.raises(KeyRevoked, match="revoked"):
        store.set_rate(issued.info.id, Rate(1, 1))
    assert store.get(issued.info.id).rate == RATE


def test_a_new_rate_limit_is_what_the_next_lookup_finds(store: KeyStore) -> None:
    issued = store.create("ci", Scope.WRITE, RATE)
    changed = store.set_rate(issued.info.id, Rate(10, 1))
    assert changed.rate == Rate(10, 1)
    found = store.find(issued.secret)
    assert found is not None and found.rate == Rate(10, 1)
    assert (found.scope, found.name) == (Scope.WRITE, "ci")
    assert store.clear_rate(issued.info.id).rate == DEFAULT_RATE


def test_unknown_ids_are_named_in_the_error(store: KeyStore) -> None:
    with pytest.raises(UnknownKey, match="key_missing"):
        store.revoke("key_missing")
    with pytest.raises(UnknownKey, match="key_missing"):
        store.set_rate("key_missing", RATE)


def test_list_is_in_creation_order_and_carries_no_secret(store: KeyStore) -> None:
    first = store.create("first", Scope.READ, RATE)
    second = store.create("second", Scope.ADMIN, RATE)
    listed = store.list()
    assert [key.id for key in listed] == [first.info.id, second.info.id]
    assert all(not hasattr(key, "secret") for key in listed)
    assert first.secret not in repr(listed)


def test_the_lookup_column_is_indexed(store: KeyStore) -> None:
    indexes = inspect(store.engine).get_indexes("api_keys")
    assert any(index["column_names"] == ["lookup"] for index in indexes)
