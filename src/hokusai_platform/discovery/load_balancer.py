"""The load balancer (Envoy's word): round robin over the endpoints the cluster says are usable.

`pick` is on every request's path and never waits: taking turns is `next()` on a cycle, in C.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Collection

from hokusai_platform.discovery.endpoint import Endpoint


class RoundRobin:
    def __init__(self) -> None:
        self.endpoints: tuple[Endpoint, ...] = ()
        self._turns: itertools.cycle[Endpoint] = itertools.cycle(())

    def update(self, endpoints: tuple[Endpoint, ...]) -> None:
        """Take turns over `endpoints` from now on; the turn goes on when nothing changed."""
        # The same objects, not equal ones: an endpoint relabelled (dns to stale) is equal to
        # the old one, and must be handed out with its new source.
        same = len(endpoints) == len(self.endpoints) and all(
            map(operator.is_, endpoints, self.endpoints)
        )
        if not same:
            self.endpoints = endpoints
            self._turns = itertools.cycle(endpoints)

    def pick(self, exclude: Collection[Endpoint] = ()) -> Endpoint | None:
        """The next endpoint in turn that is not in `exclude`; None when there is none."""
        if not exclude:
            return next(self._turns, None)
        for _ in self.endpoints:
            endpoint = next(self._turns)
            if endpoint not in exclude:
                return endpoint
        return None
