"""The authenticator: where a key may be presented, and how fast a revocation bites."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.hokusai_cli import hokusai

from hokusai_platform.keys import tokens
from hokusai_platform.keys.access import Access
from hokusai_platform.keys.auth import (
    Authenticator,
    KeyInURL,
    Unauthenticated,
    presented_key,
    reject_key_in_query,
)
from hokusai_platform.keys.grants import Level, Resource
from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import Caller, KeyInfo, KeyStore

KEY = tokens.new_secret()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "authorizations"),
    [
        ({}, [f"Bearer {KEY}"]),
        ({}, [f"bearer  {KEY}"]),
        ({"X-API-Key": KEY}, []),
        ({}, [_basic("anyone", KEY)]),
        ({"X-API-Key": KEY}, [f"Bearer {KEY}"]),
    ],
)
def test_a_key_is_accepted_in_each_documented_place(
    headers: dict[str, str], authorizations: list[str]
) -> None:
    assert presented_key(headers, authorizations) == KEY


@pytest.mark.parametrize(
    ("headers", "authorizations", "reason"),
    [
        ({}, [], "no key"),
        ({}, ["Bearer "], "no key"),
        ({}, [f"Token {KEY}"], "unsupported Authorization scheme"),
        ({}, ["Basic !!!"], "malformed Basic"),
        ({}, [f"Bearer {KEY}", f"Bearer {KEY}"], "more than one"),
        ({"X-API-Key": tokens.new_secret()}, [f"Bearer {KEY}"], "different keys"),
    ],
)
def test_unusable_credentials_are_refused_with_a_reason_for_the_log(
    headers: dict[str, str], authorizations: list[str], reason: str
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        presented_key(headers, authorizations)


@pytest.mark.parametrize(
    "query",
    [
        f"api_key={KEY}",
        f"x={KEY}",
        "access_token=abc",
        "token=hk_live_x",
        f"{KEY}=",
        "api%5Fkey=abc",
        "x=hk%5Flive%5Fabc",
    ],
)
def test_a_key_in_the_query_string_is_refused(query: str) -> None:
    with pytest.raises(KeyInURL):
        reject_key_in_query(query)


def test_ordinary_query_strings_pass() -> None:
    reject_key_in_query("experiment_ids=1&page_token=abc&max_results=10")


class CountingStore(KeyStore):
    """The real store, counting how often the database is asked, and what it is given."""

    finds = 0
    presented: list[object]

    def identify(self, presented: tokens.Presented, known: Access | None = None) -> Caller | None:
        self.finds += 1
        self.presented.append(presented)
        time.sleep(0.01)
        return super().identify(presented, known)


@pytest.fixture
def counting_store(store: KeyStore) -> Iterator[CountingStore]:
    counting = CountingStore(store.engine)
    counting.presented = []
    yield counting


def test_lookups_are_cached_and_concurrent_misses_share_one_query(
    counting_store: CountingStore,
) -> None:
    issued = counting_store.create("ci", Scope.READ, Rate(10, 1))
    authenticator = Authenticator(counting_store, cache_seconds=0.5)

    async def scenario() -> list[KeyInfo]:
        first = await asyncio.gather(
            *(authenticator.authenticate(issued.secret) for _ in range(20))
        )
        again = await authenticator.authenticate(issued.secret)
        return [*first, again]

    keys = asyncio.run(scenario())
    assert {key.id for key in keys} == {issued.info.id}
    assert counting_store.finds == 1
    assert counting_store.presented == [tokens.parse(issued.secret)], (
        "the store is handed the key checked and digested, not the secret to do it again"
    )


def test_revocation_bites_within_one_second(store: KeyStore) -> None:
    issued = store.create("ci", Scope.READ, Rate(10, 1))
    authenticator = Authenticator(store, cache_seconds=1.0)

    async def scenario() -> float:
        await authenticator.authenticate(issued.secret)
        store.revoke(issued.info.id)
        revoked_at = time.monotonic()
        while True:
            try:
                await authenticator.authenticate(issued.secret)
            except Unauthenticated as refused:
                assert "revoked" in str(refused)
                return time.monotonic() - revoked_at
            await asyncio.sleep(0.01)

    assert asyncio.run(scenario()) <= 1.05


def test_unknown_malformed_and_expired_keys_are_refused(store: KeyStore) -> None:
    expired = store.create("old", Scope.READ, Rate(10, 1), datetime.now(UTC) - timedelta(seconds=1))
    authenticator = Authenticator(store)

    async def reason(secret: str) -> str:
        with pytest.raises(Unauthenticated) as refused:
            await authenticator.authenticate(secret)
        return str(refused.value)

    assert "expired" in asyncio.run(reason(expired.secret))
    assert "unknown key" in asyncio.run(reason(tokens.new_secret()))
    assert "not a Hokusai API key" in asyncio.run(reason("hunter2"))


def test_the_cache_is_bounded(store: KeyStore) -> None:
    authenticator = Authenticator(store, cache_size=5)

    async def flood() -> None:
        for _ in range(50):
            with pytest.raises(Unauthenticated):
                await authenticator.authenticate(tokens.new_secret())

    asyncio.run(flood())
    assert len(authenticator._cache) == 5


def test_a_grant_made_by_another_process_counts_within_one_second(
    store: KeyStore, database_url: str
) -> None:
    issued = store.create("alice", Scope.WRITE, Rate(10, 1), default=Level.NO_PERMISSIONS)
    authenticator = Authenticator(store, cache_seconds=1.0)
    model = "alice/sentiment"

    before = asyncio.run(authenticator.identify(issued.secret))
    assert before.access.for_model(model) is Level.NO_PERMISSIONS
    granted = hokusai(
        database_url, "grants", "add", f"key:{issued.info.id}", "model:alice/*", "EDIT"
    )
    assert granted.returncode == 0, granted.stderr
    granted_at = time.monotonic()

    async def until_granted() -> float:
        while time.monotonic() - granted_at < 5:
            caller = await authenticator.identify(issued.secret)
            if caller.access.for_model(model) is Level.EDIT:
                return time.monotonic() - granted_at
            await asyncio.sleep(0.01)
        return float("inf")

    assert asyncio.run(until_granted()) <= 1.05


def test_fresh_sees_a_grant_at_once_and_unchanged_grants_keep_their_snapshot(
    counting_store: CountingStore,
) -> None:
    issued = counting_store.create("bob", Scope.WRITE, Rate(10, 1), default=Level.NO_PERMISSIONS)
    authenticator = Authenticator(counting_store, cache_seconds=1.0)

    async def scenario() -> None:
        first = await authenticator.identify(issued.secret)
        again = await authenticator.identify(issued.secret, fresh=True)
        assert again.access is first.access, "no grant changed: the snapshot is reused"
        counting_store.grants.grant_owner(issued.info.id, Resource.experiment("7"))
        cached = await authenticator.identify(issued.secret)
        assert cached.access.for_experiment("7") is Level.NO_PERMISSIONS
        fresh = await authenticator.identify(issued.secret, fresh=True)
        assert fresh.access.for_experiment("7") is Level.MANAGE
        assert (await authenticator.identify(issued.secret)).access is fresh.access

    asyncio.run(scenario())
    assert counting_store.finds == 3


def test_store_operations_run_in_the_lookup_threads_not_the_event_loop(store: KeyStore) -> None:
    authenticator = Authenticator(store)

    def create(in_store: KeyStore) -> tuple[str, str]:
        return threading.current_thread().name, in_store.create("ci", Scope.READ, Rate(1, 1)).secret

    async def scenario() -> tuple[str, str, KeyInfo]:
        thread, secret = await authenticator.in_store(create)
        return threading.current_thread().name, thread, await authenticator.authenticate(secret)

    loop_thread, store_thread, key = asyncio.run(scenario())
    assert store_thread.startswith("hokusai-keys") and store_thread != loop_thread
    assert key.name == "ci"
