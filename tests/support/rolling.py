"""A rolling replacement of two gateway replicas behind HAProxy, under steady keep-alive load.

HAProxy stands in for the load balancer as issue 22 measured it (support.replicas). Both
replicas share one SQLite key database, in front of the recording upstream. The load is a
POST search (MLflow's `runs/search`, a read): not idempotent, so no client or balancer may
quietly send it twice.
Shared by test_rolling_deploy.py and bench/rolling_deploy.py.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore
from support.replicas import behind_haproxy, replace_one_by_one, two_replicas

SEARCH_PATH = "/api/mlflow/api/2.0/mlflow/runs/search"
SEARCH_BODY = b'{"experiment_ids": ["0"], "max_results": 1}'
CALLERS = 8


@dataclass
class Tally:
    """What the callers saw: answers by outcome ("200", "503", an exception's name)."""

    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    exit_codes: list[int | None] = field(default_factory=list)  # of each replaced replica

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failures(self) -> int:
        return self.requests - self.outcomes["200"]


class SteadyLoad:
    """`CALLERS` callers, each sending one request after another on its keep-alive
    connection, in a thread of their own until stopped."""

    def __init__(self, url: str, key: str) -> None:
        self._url = url + SEARCH_PATH
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.tally = Tally()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=CALLERS)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self._caller(session) for _ in range(CALLERS)))

    async def _caller(self, session: aiohttp.ClientSession) -> None:
        outcomes = self.tally.outcomes
        while not self._stopping.is_set():
            try:
                async with session.post(
                    self._url, data=SEARCH_BODY, headers=self._headers
                ) as answer:
                    await answer.read()
                    outcomes[str(answer.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcomes[type(exc).__name__] += 1


def rolling_replacement(
    directory: Path, upstream_url: str, drain_seconds: float, settle_seconds: float = 1.0
) -> Tally:
    """Two replicas behind HAProxy under steady load; each replaced in turn (SIGTERM, then a
    new one on the same port once the old has exited, back in HAProxy before the next)."""
    keys_url = f"sqlite:///{directory / 'keys.db'}"
    store = KeyStore.open(keys_url)
    key = store.create("rolling-load", Scope.READ, Rate(1_000_000, 60)).secret
    store.close()
    env = {
        "MLFLOW_SERVER_URL": upstream_url,
        "HOKUSAI_AUTH": "required",
        "HOKUSAI_DATABASE_URL": keys_url,
        "HOKUSAI_DRAIN_SECONDS": str(drain_seconds),
    }
    replicas = two_replicas(directory, env)
    with behind_haproxy(directory, replicas) as haproxy, SteadyLoad(haproxy.url, key) as load:
        time.sleep(settle_seconds)
        load.tally.exit_codes.extend(replace_one_by_one(haproxy, replicas, settle_seconds))
    return load.tally
