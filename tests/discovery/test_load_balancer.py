"""Round robin: turns, exclusion of endpoints already tried, and relabelled endpoints."""

from __future__ import annotations

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.discovery.load_balancer import RoundRobin

A, B, C = (Endpoint("http", f"10.0.1.{n}", 5000, "dns") for n in (1, 2, 3))


def test_endpoints_take_turns_and_nothing_to_pick_is_none() -> None:
    balancer = RoundRobin()
    assert balancer.pick() is None and balancer.pick([A]) is None
    balancer.update((A, B, C))
    assert [balancer.pick() for _ in range(6)] == [A, B, C, A, B, C]


def test_endpoints_already_tried_are_skipped() -> None:
    balancer = RoundRobin()
    balancer.update((A, B, C))
    assert balancer.pick([A]) == B
    assert balancer.pick([A, C]) == B
    assert balancer.pick([A, B, C]) is None


def test_the_turn_goes_on_through_an_unchanged_update() -> None:
    balancer = RoundRobin()
    balancer.update((A, B, C))
    assert balancer.pick() == A
    balancer.update((A, B, C))
    assert balancer.pick() == B


def test_relabelled_endpoints_are_handed_out_with_their_new_source() -> None:
    balancer = RoundRobin()
    balancer.update((A, B))
    balancer.update((A.relabelled("stale"), B.relabelled("stale")))
    assert {balancer.pick().source for _ in range(2)} == {"stale"}
