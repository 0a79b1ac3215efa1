"""What a per-resource grant check costs the gateway, with a warm cache (issue 24).

Builds one key's snapshot (`keys.access.Access`) from `--grants` grants — its own and its 20
teams', on experiments and registered models, exact and by name prefix, prefixes of many
lengths — and `ResourceCache`s holding `--runs` run → experiment mappings and every
experiment's name. Then times `--checks` checks one by one, as the gateway will make them:

- run:   run id → experiment id (cache) → experiment name (cache) → `for_experiment` → allowed?
- model: registered model name → `for_model` → allowed?

and prints p50/p99 per check (the target: p50 ≤ 0.3 ms). Then the same checks as the gateway
makes them for a request (gateway/enforcement.py): the route found in the route table, the id
read from the query string where MLflow reads it, the run's experiment and its name from the
gateway's own lookup caches, the level compared. Then stores the same grants in a real SQLite
keys database and times what a gateway's once-a-second refresh of the key costs: with no grant
changed (the snapshot is kept), and after a change (it is rebuilt).

    .venv/bin/python bench/grant_check.py [--grants 10000] [--runs 100000] [--checks 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import insert

from hokusai_platform.gateway.enforcement import Enforcer
from hokusai_platform.gateway.lookups import Lookups
from hokusai_platform.gateway.request_names import RequestNames
from hokusai_platform.gateway.routes import ROUTES
from hokusai_platform.gateway.rules import Kind
from hokusai_platform.http.messages import Request
from hokusai_platform.keys import tokens
from hokusai_platform.keys.access import Access
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource
from hokusai_platform.keys.models import GrantRow
from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.resource_cache import ResourceCache
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore

P50_TARGET_MS = 0.3
KEY_ID = "key_bench"
TEAMS = 20  # the key is in all of them
EXPERIMENTS = 20_000  # experiment ids 0…19999, each with a name; models likewise


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=10_000, help="grants in the snapshot")
    parser.add_argument("--runs", type=int, default=100_000, help="run → experiment mappings")
    parser.add_argument("--checks", type=int, default=200_000, help="checks timed, per kind")
    return parser.parse_args()


def _experiment_name(number: int) -> str:
    return f"team-{number % TEAMS}/project-{number % 97}/experiment-{number}"


def _model_name(number: int) -> str:
    return f"team-{number % TEAMS}/model-{number}"


def _grants(count: int, rng: random.Random) -> list[Grant]:
    """`count` different grants: a fifth the key's own, the rest its teams'; a quarter of each
    on name prefixes."""
    grants: dict[tuple[Principal, Resource], Grant] = {}
    levels = list(Level)
    index = 0
    while len(grants) < count:
        principal = (
            Principal.key(KEY_ID) if index % 5 == 0 else Principal.team(f"team-{index % TEAMS}")
        )
        number = rng.randrange(EXPERIMENTS)
        shape = index % 8
        index += 1
        if shape == 0:
            resource = Resource.parse(f"experiment:team-{number % TEAMS}/project-{number % 97}/*")
        elif shape == 1:
            resource = Resource.parse(f"model:team-{number % TEAMS}/model-{number % 50}*")
        elif shape < 5:
            resource = Resource.experiment(str(number))
        else:
            resource = Resource.model(_model_name(number))
        grants[principal, resource] = Grant(principal, resource, rng.choice(levels))
    return list(grants.values())


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    cut = statistics.quantiles(samples_ns, n=100)
    return cut[49] / 1e6, cut[98] / 1e6


def _time_each(check: Callable[[int], bool], count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples = [0] * count
    for index in range(count):
        started = clock()
        check(index)
        samples[index] = clock() - started
    return samples


def _in_memory(args: argparse.Namespace, grants: list[Grant], rng: random.Random) -> None:
    built = time.perf_counter()
    access = Access.build(KEY_ID, Scope.WRITE, Level.NO_PERMISSIONS, grants)
    build_ms = (time.perf_counter() - built) * 1000
    runs: ResourceCache[str, str] = ResourceCache(max_entries=args.runs, ttl_seconds=3600)
    names: ResourceCache[str, str] = ResourceCache(max_entries=EXPERIMENTS, ttl_seconds=3600)
    run_ids = [uuid.uuid4().hex for _ in range(args.runs)]
    for run_id in run_ids:
        runs.put(run_id, str(rng.randrange(EXPERIMENTS)))
    for number in range(EXPERIMENTS):
        names.put(str(number), _experiment_name(number))
    asked_runs = [rng.choice(run_ids) for _ in range(args.checks)]
    asked_models = [_model_name(rng.randrange(EXPERIMENTS)) for _ in range(args.checks)]

    def run_check(index: int) -> bool:
        experiment_id = runs.get(asked_runs[index])
        assert experiment_id is not None
        name = names.get(experiment_id) if access.needs_experiment_names else None
        return access.for_experiment(experiment_id, name) >= Level.READ

    def model_check(index: int) -> bool:
        return access.for_model(asked_models[index]) >= Level.EDIT

    print(
        f"{len(grants)} grants ({TEAMS} teams) indexed in {build_ms:.1f} ms; "
        f"{len(runs)} runs and {len(names)} experiment names cached"
    )
    allowed = sum(run_check(index) for index in range(args.checks))
    print(f"{allowed / args.checks:.0%} of the runs asked for are readable (a realistic mix)")
    for label, check in (("run → experiment → grant", run_check), ("model → grant", model_check)):
        p50, p99 = _percentiles(_time_each(check, args.checks))
        verdict = "meets" if p50 <= P50_TARGET_MS else "MISSES"
        print(
            f"  {label:<26} p50 {p50 * 1000:6.2f} µs  p99 {p99 * 1000:6.2f} µs  "
            f"({verdict} the {P50_TARGET_MS} ms p50 target)"
        )


def _through_the_gateway(args: argparse.Namespace, grants: list[Grant], rng: random.Random) -> None:
    access = Access.build(KEY_ID, Scope.WRITE, Level.NO_PERMISSIONS, grants)
    # Never asked of MLflow: every mapping is cached (a warm cache), so neither is used.
    nowhere = cast(Any, None)
    lookups = Lookups(nowhere, nowhere, max_entries=args.runs, name_seconds=3600)
    enforcer = Enforcer(lookups, nowhere, nowhere, 65536)
    run_ids = [uuid.uuid4().hex for _ in range(args.runs)]
    for run_id in run_ids:
        lookups.remember_parent(Kind.RUN, run_id, str(rng.randrange(EXPERIMENTS)))
    for number in range(EXPERIMENTS):
        lookups.remember_name(str(number), _experiment_name(number))
    asked = [
        cast(Request, SimpleNamespace(query_string=f"run_id={rng.choice(run_ids)}"))
        for _ in range(args.checks)
    ]

    async def checks() -> list[int]:
        clock = time.perf_counter_ns
        samples = [0] * args.checks
        for index, request in enumerate(asked):
            started = clock()
            route = ROUTES.route("GET", "/api/2.0/mlflow/runs/get")
            assert route is not None
            names = RequestNames.of_request(request, route.params, None)
            named = [names.read(rule) for rule in route.rule.names]
            await enforcer.denial(access, named)
            samples[index] = clock() - started
        return samples

    p50, p99 = _percentiles(asyncio.run(checks()))
    verdict = "meets" if p50 <= P50_TARGET_MS else "MISSES"
    print(
        f"  {'GET runs/get, as enforced':<26} p50 {p50 * 1000:6.2f} µs  p99 {p99 * 1000:6.2f} µs  "
        f"({verdict} the {P50_TARGET_MS} ms p50 target; route, query, caches, level)"
    )


def _refresh_from_sqlite(grants: list[Grant]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = KeyStore.open(f"sqlite:///{Path(directory) / 'keys.db'}")
        issued = store.create("bench", Scope.WRITE, Rate(600, 60), default=Level.NO_PERMISSIONS)
        for team in range(TEAMS):
            store.grants.create_team(f"team-{team}")
            store.grants.add_member(f"team-{team}", issued.info.id)
        _insert_at_once(store, issued.info.id, grants)
        presented = tokens.parse(issued.secret)
        assert presented is not None
        rebuilt, kept = [], []
        for _ in range(20):
            started = time.perf_counter_ns()
            caller = store.identify(presented)  # no snapshot known: rebuilt
            rebuilt.append(time.perf_counter_ns() - started)
            assert caller is not None
            started = time.perf_counter_ns()
            assert store.identify(presented, caller.access) is not None  # unchanged: kept
            kept.append(time.perf_counter_ns() - started)
        store.close()
    kept_ms, rebuilt_ms = statistics.median(kept) / 1e6, statistics.median(rebuilt) / 1e6
    print(
        "SQLite refresh of the key (once a second per key and process, in a thread): "
        f"{kept_ms:.2f} ms when nothing it reaches changed, {rebuilt_ms:.1f} ms to rebuild "
        f"its {len(grants)} grants"
    )


def _insert_at_once(store: KeyStore, key_id: str, grants: list[Grant]) -> None:
    """One transaction (`GrantStore.put` takes one per grant, as a person's change should)."""
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        connection.execute(
            insert(GrantRow),
            [
                {
                    "principal_kind": grant.principal.kind.value,
                    "principal": key_id if grant.principal.name == KEY_ID else grant.principal.name,
                    "resource_kind": grant.resource.kind.value,
                    "prefix": grant.resource.prefix,
                    "resource": grant.resource.name,
                    "level": grant.level.name,
                    "created_at": now,
                }
                for grant in grants
            ],
        )


def main() -> None:
    args = _arguments()
    rng = random.Random(24)  # the same grants and checks every run
    grants = _grants(args.grants, rng)
    _in_memory(args, grants, rng)
    _through_the_gateway(args, grants, rng)
    _refresh_from_sqlite(grants)


if __name__ == "__main__":
    main()
