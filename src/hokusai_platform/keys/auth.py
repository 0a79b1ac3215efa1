"""The gateway's authenticator: which key a request presents, and whether it is good now.

Lookups are cached in-process, bounded in size and in time: a key's answer is reused for at
most `cache_seconds` (≤ 1 s), which is how long a revocation, or a change to the key's grants,
can take to reach every gateway process. Each answer carries the key's `Access` (its grants,
indexed); a refresh rebuilds it only when some grant changed. Concurrent misses for one key
share a single database query, run in a small thread pool so the event loop never waits on SQL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import parse_qsl

from hokusai_platform.keys import tokens
from hokusai_platform.keys.store import Caller, KeyInfo, KeyStore

T = TypeVar("T")
MAX_CACHE_SECONDS = 1.0
_QUERY_KEY_NAMES = frozenset({"api_key", "apikey", "api-key", "x-api-key", "access_token", "key"})
_QUERY_MARKERS = ("%", tokens.PREFIX, "key", "token")  # every way to spell one


class Unauthenticated(Exception):
    """No usable key. The message is for the log only; callers are told nothing more."""


class KeyInURL(Exception):
    """A key was sent in the query string, where proxies and logs would keep it."""


def presented_key(headers: Mapping[str, str], authorizations: list[str]) -> str:
    """The key from `Authorization: Bearer`, `Authorization: Basic` (as password) or `X-API-Key`."""
    if len(authorizations) > 1:
        raise Unauthenticated("more than one Authorization header")
    from_header = _from_authorization(authorizations[0]) if authorizations else None
    api_key = headers.get("X-API-Key")
    if from_header is not None and api_key is not None and api_key != from_header:
        raise Unauthenticated("Authorization and X-API-Key carry different keys")
    key = from_header if from_header is not None else api_key
    if not key:
        raise Unauthenticated("no key presented")
    return key.strip()


def _from_authorization(value: str) -> str:
    scheme, _, credentials = value.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        return decoded.partition(":")[2]
    raise Unauthenticated(f"unsupported Authorization scheme {scheme[:20]!r}")


def reject_key_in_query(query_string: str) -> None:
    lowered = query_string.lower()
    # Parsing costs more than the rest of the check; most query strings cannot hold a key.
    if not lowered or not any(marker in lowered for marker in _QUERY_MARKERS):
        return
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name.lower() in _QUERY_KEY_NAMES or tokens.PREFIX in value or tokens.PREFIX in name:
            raise KeyInURL("API keys are not accepted in the URL; send Authorization: Bearer")


class Authenticator:
    def __init__(
        self,
        store: KeyStore,
        *,
        cache_seconds: float = 0.5,
        cache_size: int = 10_000,
        threads: int = 4,
    ) -> None:
        self._store = store
        self._cache_seconds = min(cache_seconds, MAX_CACHE_SECONDS)
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[float, Caller | None]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[Caller | None]] = {}
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="hokusai-keys")

    async def authenticate(self, secret: str) -> KeyInfo:
        """The key, if it exists and is neither revoked nor expired; else `Unauthenticated`."""
        return (await self.identify(secret)).key

    async def identify(self, secret: str, *, fresh: bool = False) -> Caller:
        """The key and what it may reach, as `authenticate` checks it.

        The answer may be up to `cache_seconds` old; `fresh=True` asks the database now. Ask
        again with it before refusing a request for want of a grant: a grant made a moment
        ago (the ownership of what the key just created, maybe by another process) then
        counts at once, at the cost of one query per refusal.
        """
        if not tokens.is_well_formed(secret):
            raise Unauthenticated("not a Hokusai API key")
        digest = tokens.digest_of(secret)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic() and not fresh:
            caller = cached[1]
        else:
            caller = await self._refresh(secret, digest, cached, fresh)
        if caller is None:
            raise Unauthenticated(f"unknown key {tokens.PREFIX}{tokens.lookup_of(secret)}…")
        key = caller.key
        if key.revoked:
            raise Unauthenticated(f"key {key.id} is revoked")
        if key.expired(datetime.now(UTC)):
            raise Unauthenticated(f"key {key.id} expired at {key.expires_at}")
        return caller

    async def _refresh(
        self,
        secret: str,
        digest: str,
        cached: tuple[float, Caller | None] | None,
        fresh: bool,
    ) -> Caller | None:
        pending = self._in_flight.get(digest)
        if pending is not None and not fresh:
            return await asyncio.shield(pending)
        presented = tokens.Presented(tokens.lookup_of(secret), digest)
        known = cached[1].access if cached is not None and cached[1] is not None else None
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._store.identify, presented, known)
        if fresh:  # not shared: a query already under way may have begun before the change
            caller = await future
        else:
            self._in_flight[digest] = future
            try:
                caller = await asyncio.shield(future)
            finally:
                del self._in_flight[digest]
        self._remember(digest, caller, time.monotonic() + self._cache_seconds)
        return caller

    async def in_store(self, operation: Callable[[KeyStore], T]) -> T:
        """Run `operation` on the key store in the lookup threads (the key admin API's SQL)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, operation, self._store)

    def _remember(self, digest: str, caller: Caller | None, until: float) -> None:
        self._cache[digest] = (until, caller)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, secret: str) -> None:
        """Drop the cached answer for `secret`: its next use asks the database."""
        self._cache.pop(tokens.digest_of(secret), None)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._store.close()
