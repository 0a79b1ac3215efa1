"""The cache of what MLflow was asked (run → experiment, …): bounded, expiring, invalidated."""

from __future__ import annotations

import pytest

from hokusai_platform.keys.resource_cache import ResourceCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_for_its_ttl_and_no_longer() -> None:
    clock = Clock()
    cache: ResourceCache[str, str] = ResourceCache(max_entries=10, ttl_seconds=5, clock=clock)
    cache.put("run-1", "12")
    clock.now += 4.9
    assert cache.get("run-1") == "12"
    clock.now += 0.1
    assert cache.get("run-1") is None
    assert len(cache) == 0, "an expired entry is dropped when found"


def test_the_oldest_entries_go_first_when_full() -> None:
    cache: ResourceCache[str, str] = ResourceCache(max_entries=3, ttl_seconds=60)
    for run in ("a", "b", "c"):
        cache.put(run, run.upper())
    cache.put("a", "A2")  # stored again: now the newest
    cache.put("d", "D")
    assert len(cache) == 3
    assert cache.get("b") is None
    assert [cache.get(run) for run in ("a", "c", "d")] == ["A2", "C", "D"]


def test_storing_again_restarts_the_ttl() -> None:
    clock = Clock()
    cache: ResourceCache[str, int] = ResourceCache(max_entries=10, ttl_seconds=5, clock=clock)
    cache.put("name", 1)
    clock.now += 4
    cache.put("name", 2)
    clock.now += 4
    assert cache.get("name") == 2


def test_invalidate_forgets_a_deleted_resource() -> None:
    cache: ResourceCache[tuple[str, str], str] = ResourceCache(max_entries=10, ttl_seconds=60)
    cache.put(("model-version", "m/3"), "m")
    cache.invalidate(("model-version", "m/3"))
    cache.invalidate(("model-version", "never-cached"))
    assert cache.get(("model-version", "m/3")) is None


@pytest.mark.parametrize(("entries", "ttl"), [(0, 1.0), (10, 0.0)])
def test_a_cache_that_could_hold_nothing_is_refused(entries: int, ttl: float) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        ResourceCache(max_entries=entries, ttl_seconds=ttl)
