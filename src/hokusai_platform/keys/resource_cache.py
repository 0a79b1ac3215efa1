"""A bounded cache with a time to live, for what MLflow has to be asked to find out: which
experiment a run (a logged model, a trace) belongs to, an experiment's name, its id by name.

Entries are evicted oldest first once `max_entries` is reached, and expire `ttl_seconds`
after they were stored. `invalidate` reaches only this process: a mapping that can change
(an experiment's name, the id behind a name, both freed by a delete and reused by a create)
must therefore have a TTL short enough for other processes to follow; one that cannot
(a run's experiment; run ids are never reused) may live long.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ResourceCache(Generic[K, V]):
    def __init__(
        self,
        *,
        max_entries: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl_seconds <= 0:
            raise ValueError("a ResourceCache needs max_entries ≥ 1 and ttl_seconds > 0")
        self._max_entries = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        # In order of storage, which with one TTL for all is also the order of expiry.
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        entries.pop(key, None)
        entries[key] = (self._clock() + self._ttl, value)
        if len(entries) > self._max_entries:
            entries.popitem(last=False)

    def invalidate(self, key: K) -> None:
        """Forget `key` (its resource was deleted, renamed or moved)."""
        self._entries.pop(key, None)
