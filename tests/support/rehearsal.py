"""The production rehearsal of issue 22 (shared by test_rehearsal.py and bench/rehearsal.py).

In the production shape (support.production), under steady load from the stock MLflow
client (support.mlflow_load) through the balancer: both replicas are replaced one after the
other (SIGTERM, a new one once the old has exited), then a key is created through replica A's
admin API and used on B, and revoked through B's and refused by A, each timed. Every figure
comes back for the test to assert and the bench to print.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.hokusai_cli import hokusai
from support.mlflow_load import LoadTally, MlflowLoad
from support.production import Production, production
from support.replicas import DRAIN_SECONDS, Replica, replace_one_by_one
from support.secured import request

KEYS = "/api/admin/v1/keys"
SEARCH = "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=1"
PROPAGATION_TIMEOUT = 10.0
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/keys"  # an operator's machine reaches none


@dataclass(frozen=True)
class Balancer:
    """HAProxy's own count of what passed through it (its frontend's counters)."""

    requests: int
    answers: dict[str, int]  # by class: "2xx" … "5xx", "other"
    refused: int  # requests it could not forward or answer (request, connection, response errors)

    @property
    def failures(self) -> int:
        return self.requests - self.answers["2xx"] + self.refused


@dataclass(frozen=True)
class Propagation:
    """Seconds from an admin API's answer on one replica to the first request the other
    replica answers accordingly (when that request was sent)."""

    created_on_a_works_on_b: float
    revoked_on_b_refused_by_a: float


@dataclass(frozen=True)
class Rehearsal:
    load: LoadTally
    balancer: Balancer
    exit_codes: list[int | None]  # of the replaced replicas
    transfers_at_sigterm: int  # artifact round trips under way as a replica got SIGTERM
    propagation: Propagation
    seconds: float  # under load
    shape: Production


@contextmanager
def rehearse(
    directory: Path, settle_seconds: float = 3.0, drain_seconds: float = DRAIN_SECONDS
) -> Iterator[Rehearsal]:
    """Everything above; the figures while the shape still runs, to look into it.
    `settle_seconds` of load before the first replacement and after each."""
    with production(directory, drain_seconds) as shape:
        load_key = _created_remotely(shape)
        began = time.monotonic()
        with MlflowLoad(f"{shape.url}/api/mlflow", load_key, directory) as load:
            time.sleep(settle_seconds)
            exit_codes = replace_one_by_one(shape.haproxy, shape.replicas, settle_seconds)
            propagation = _key_propagation(shape.replicas, shape.admin_key)
        seconds = time.monotonic() - began
        sigterms = [moment for replica in shape.replicas for moment in replica.sigterms]
        yield Rehearsal(
            load=load.tally,
            balancer=_balancer(shape),
            exit_codes=exit_codes,
            transfers_at_sigterm=sum(load.tally.spanning(moment) for moment in sigterms),
            propagation=propagation,
            seconds=seconds,
            shape=shape,
        )


def _created_remotely(shape: Production) -> str:
    """The load's key, made as an operator would: `hokusai keys create --url` on the balancer."""
    created = hokusai(
        NO_DATABASE, "keys", "--url", shape.url, "create", "--name", "training",
        "--scope", "write", "--rate-limit", "1000000/min", HOKUSAI_ADMIN_KEY=shape.admin_key,
    )  # fmt: skip
    if created.returncode != 0:
        raise RuntimeError(f"hokusai keys create --url failed: {created.stderr}")
    return created.stdout.splitlines()[0]


def _key_propagation(replicas: list[Replica], admin_key: str) -> Propagation:
    a, b = replicas
    admin = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}
    status, _, body = request(
        a.url, "POST", KEYS, admin, json.dumps({"name": "propagated", "scope": "read"}).encode()
    )
    assert status == 201, body
    created = time.monotonic()
    document = json.loads(body)
    secret, key_id = document["secret"], document["key"]["id"]
    works_on_b = _first(lambda: _proxied(b, secret) == 200) - created
    assert _proxied(a, secret) == 200  # replica A now holds the key in its cache
    status, _, body = request(b.url, "POST", f"{KEYS}/{key_id}/revoke", admin)
    assert status == 200, body
    revoked = time.monotonic()
    refused_by_a = _first(lambda: _proxied(a, secret) == 401) - revoked
    return Propagation(works_on_b, refused_by_a)


def _proxied(replica: Replica, key: str) -> int:
    return request(replica.url, "GET", SEARCH, {"Authorization": f"Bearer {key}"})[0]


def _first(condition: Callable[[], bool]) -> float:
    """When the first call of `condition` that held was made (monotonic), polled every 10 ms:
    what propagates is timed, not how long the answer then took."""
    deadline = time.monotonic() + PROPAGATION_TIMEOUT
    while True:
        asked = time.monotonic()
        if condition():
            return asked
        if asked > deadline:
            raise TimeoutError(f"not within {PROPAGATION_TIMEOUT} s")
        time.sleep(0.01)


def _balancer(shape: Production) -> Balancer:
    row = shape.haproxy.stats("FRONTEND")
    answers = {f"{n}xx": int(row[f"hrsp_{n}xx"] or 0) for n in range(1, 6)}
    answers["other"] = int(row["hrsp_other"] or 0)
    refused = sum(int(row[name] or 0) for name in ("ereq", "dreq"))
    return Balancer(int(row["req_tot"] or 0), answers, refused)
