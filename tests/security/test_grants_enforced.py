"""Per-resource grants, enforced against a real MLflow with the stock client (issue 24).

Alice's contributor key has EDIT on registered models `alice-*`, nothing by default. Bob's
experiment, run, logged model, trace and registered model `bob/classifier` exist already.
Alice publishes versions of `alice/sentiment` in an experiment she creates (and so owns), sees
only her own things in every search, paged one result at a time, and is refused on every route
of the table aimed at Bob's things or at what no rule covers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from support.processes import start_gateway
from support.secured import GENEROUS, Keys, exchange, secured_env

from hokusai_platform.gateway.routes import API_ROUTES, ROOT_ROUTES
from hokusai_platform.gateway.rules import SEARCHES, Kind, Names, Rule, Source
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource
from hokusai_platform.keys.scopes import Scope


@dataclass(frozen=True)
class Bob:
    experiment_id: str
    run_id: str
    logged_model_id: str
    trace_id: str
    dataset_id: str
    model: str = "bob-classifier"
    experiment_name: str = "bob-experiment"


@dataclass(frozen=True)
class World:
    api: str  # the gateway's MLflow tracking URI
    alice: str  # her key
    bob: Bob


def _create_dataset(
    base: str, name: str, experiment_ids: list[str], token: str | None = None
) -> str:
    """An evaluation dataset in those experiments, made over MLflow's REST API."""
    answer = requests.post(
        f"{base}/api/3.0/mlflow/datasets/create",
        json={"name": name, "experiment_ids": experiment_ids},
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["dataset"]["dataset_id"])


@pytest.fixture(scope="module")
def world(
    mlflow_url: str, keys: Keys, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    mlflow.set_tracking_uri(mlflow_url)  # where the trace below is exported
    direct = MlflowClient(mlflow_url, registry_uri=mlflow_url)
    experiment_id = direct.create_experiment("bob-experiment")
    run_id = direct.create_run(experiment_id).info.run_id
    direct.log_metric(run_id, "loss", 0.25)
    logged_model_id = direct.create_logged_model(experiment_id, name="bob-model").model_id
    trace_id = direct.start_trace("bob-trace", experiment_id=experiment_id).trace_id
    direct.end_trace(trace_id)
    mlflow.flush_trace_async_logging()
    direct.create_registered_model("bob-classifier")
    direct.create_model_version("bob-classifier", f"runs:/{run_id}/model", run_id=run_id)
    direct.set_registered_model_alias("bob-classifier", "champion", "1")
    dataset_id = _create_dataset(mlflow_url, "bob-dataset", [experiment_id])
    alice = keys.store.create("alice", Scope.WRITE, GENEROUS, default=Level.NO_PERMISSIONS)
    keys.store.grants.put(
        Grant(Principal.key(alice.info.id), Resource.parse("model:alice-*"), Level.EDIT)
    )
    log = tmp_path_factory.mktemp("grants") / "gateway.log"
    server, url = start_gateway(log, secured_env(keys, redis_url, MLFLOW_SERVER_URL=mlflow_url))
    yield World(
        f"{url}/api/mlflow",
        alice.secret,
        Bob(experiment_id, run_id, logged_model_id, trace_id, dataset_id),
    )
    server.stop()


@pytest.fixture
def alice(world: World, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", world.alice)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(world.api)
    return MlflowClient(world.api, registry_uri=world.api)


def test_a_contributor_publishes_versions_of_her_own_model(
    alice: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = alice.create_experiment("alice-experiment")  # hers: she manages it
    run_id = alice.create_run(experiment_id).info.run_id
    alice.log_param(run_id, "lr", "0.1")
    alice.log_metric(run_id, "loss", 0.5)
    (tmp_path / "model.txt").write_text("weights")
    alice.log_artifact(run_id, str(tmp_path / "model.txt"), artifact_path="model")
    alice.create_registered_model("alice-sentiment")
    for expected in ("1", "2"):
        version = alice.create_model_version(
            "alice-sentiment", f"runs:/{run_id}/model", run_id=run_id
        )
        assert version.version == expected
    alice.set_registered_model_alias("alice-sentiment", "champion", "2")
    assert alice.get_model_version_by_alias("alice-sentiment", "champion").version == "2"
    assert [a.path for a in alice.list_artifacts(run_id, "model")] == ["model/model.txt"]
    alice.delete_registered_model_alias("alice-sentiment", "champion")
    model_id = alice.create_logged_model(experiment_id, name="alice-model").model_id
    alice.set_logged_model_tags(model_id, {"stage": "dev"})
    assert alice.get_logged_model(model_id).tags["stage"] == "dev"
    trace_id = alice.start_trace("alice-trace", experiment_id=experiment_id).trace_id
    alice.end_trace(trace_id)
    mlflow.flush_trace_async_logging()
    assert alice.get_trace(trace_id).info.experiment_id == experiment_id
    alice.delete_experiment(experiment_id)  # MANAGE: hers to delete
    alice.restore_experiment(experiment_id)


def test_she_sees_only_her_own_things_in_every_search_a_page_at_a_time(
    alice: MlflowClient, world: World
) -> None:
    experiment_id = alice.create_experiment("alice-searched")
    runs = {alice.create_run(experiment_id).info.run_id for _ in range(3)}
    for name in ("alice-a", "alice-b", "alice-c"):
        alice.create_registered_model(name)
        alice.create_model_version(name, f"runs:/{min(runs)}/model", run_id=min(runs))

    def every_page(search: Callable[[str | None], Any]) -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = search(token)
            assert len(page) <= 1
            found.extend(page)
            token = page.token
            if not token:
                return found

    experiments = every_page(lambda t: alice.search_experiments(max_results=1, page_token=t))
    assert {e.name for e in experiments} >= {"alice-searched"}
    assert all(e.name.startswith("alice-") for e in experiments)
    models = every_page(lambda t: alice.search_registered_models(max_results=1, page_token=t))
    assert {m.name for m in models} >= {"alice-a", "alice-b", "alice-c"}
    assert all(m.name.startswith("alice-") for m in models)
    versions = every_page(lambda t: alice.search_model_versions(max_results=1, page_token=t))
    assert versions and all(v.name.startswith("alice-") for v in versions)
    both = [experiment_id, world.bob.experiment_id]
    found = every_page(lambda t: alice.search_runs(both, max_results=1, page_token=t))
    assert {r.info.run_id for r in found} == runs
    assert alice.search_runs([world.bob.experiment_id]) == []
    logged = alice.search_logged_models(experiment_ids=both)
    assert all(m.experiment_id == experiment_id for m in logged)


def _value(names: Names, bob: Bob) -> str:
    if names.segment:
        return f"{bob.experiment_id}/{bob.run_id}/artifacts/model.pkl"
    return {
        Kind.EXPERIMENT: bob.experiment_id,
        Kind.EXPERIMENT_NAME: bob.experiment_name,
        Kind.RUN: bob.run_id,
        Kind.LOGGED_MODEL: bob.logged_model_id,
        Kind.TRACE: bob.trace_id,
        Kind.DATASET: bob.dataset_id,
        Kind.MODEL: bob.model,
    }[names.kind]


def _nest(body: dict[str, object], field: str, value: object) -> None:
    """`value` at a dotted field; a repeated message's (`locations[].…`) in a one-item list."""
    head, _, rest = field.partition(".")
    if not rest:
        body[head] = value
        return
    inner: dict[str, object] = {}
    values = value if isinstance(value, list) else [value]
    body[head.removesuffix("[]")] = [inner] if head.endswith("[]") else inner
    _nest(inner, rest, values[0] if head.endswith("[]") else value)


def _aimed_at_bob(method: str, path: str, rule: Rule, bob: Bob) -> tuple[str, bytes]:
    """The route's target and body, naming Bob's resources wherever MLflow reads them."""
    params: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    body: dict[str, object] = {}
    for names in rule.names:
        value = _value(names, bob)
        field = names.fields[0]
        if names.source is Source.PATH:
            params[field] = value
        elif names.source is Source.QUERY or method == "GET":
            query.append((field, value))
        else:
            _nest(body, field, [value] if names.many else value)
    filled = re.sub(r"\{(\w+)\}", lambda m: params.get(m[1], "x1"), path)
    target = (
        ("/api/mlflow/api/2.0/" + filled) if not path.startswith("/") else "/api/mlflow" + filled
    )
    return target + ("?" + urlencode(query) if query else ""), json.dumps(body).encode()


ROUTES_NAMING_RESOURCES = [
    (method, path, rule)
    for method, path, _, rule in (*API_ROUTES, *ROOT_ROUTES)
    if (rule.names or not rule.ruled) and rule.action not in SEARCHES
]


def test_every_route_aimed_at_bob_or_unruled_is_refused(world: World) -> None:
    reached = []
    headers = {"Authorization": f"Bearer {world.alice}", "Content-Type": "application/json"}
    for method, path, rule in ROUTES_NAMING_RESOURCES:
        target, body = _aimed_at_bob(method, path, rule, world.bob)
        status, _, answer = exchange(
            world.api.removesuffix("/api/mlflow"),
            method,
            target,
            headers,
            b"" if method == "GET" else body,
        )
        if status != 403 or json.loads(answer)["error_code"] != "PERMISSION_DENIED":
            reached.append((method, path, status, answer[:200]))
    assert reached == []
    kinds = {names.kind for _, _, rule in ROUTES_NAMING_RESOURCES for names in rule.names}
    assert kinds == set(Kind)
    assert len(ROUTES_NAMING_RESOURCES) > 140


def test_the_stock_client_is_refused_on_bob_s_things(alice: MlflowClient, world: World) -> None:
    bob = world.bob
    for attempt in (
        lambda: alice.get_run(bob.run_id),
        lambda: alice.log_metric(bob.run_id, "loss", 0.1),
        lambda: alice.get_metric_history(bob.run_id, "loss"),
        lambda: alice.list_artifacts(bob.run_id),
        lambda: alice.get_experiment(bob.experiment_id),
        lambda: alice.get_experiment_by_name(bob.experiment_name),
        lambda: alice.create_run(bob.experiment_id),
        lambda: alice.get_registered_model(bob.model),
        lambda: alice.get_model_version(bob.model, "1"),
        lambda: alice.create_model_version(bob.model, "runs:/x/model"),
        lambda: alice.get_model_version_by_alias(bob.model, "champion"),
        lambda: alice.set_registered_model_alias(bob.model, "mine", "1"),
        lambda: alice.rename_registered_model("alice-sentiment", "bob-sentiment"),
        lambda: alice.get_logged_model(bob.logged_model_id),
        lambda: alice.get_trace(bob.trace_id),
        lambda: alice.download_artifacts(bob.run_id, "", "/tmp/never-written"),
    ):
        with pytest.raises((MlflowException, requests.HTTPError), match="PERMISSION_DENIED"):
            attempt()


# What the MLflow 3 UI asks of /graphql for a run's page and a run list, shortened.
UI_GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { code message }
    run {
      info { runUuid experimentId }
      experiment { experimentId name }
      modelVersions { status version name source }
    }
  }
}
"""
UI_SEARCH_RUNS = """
query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) { runs { info { runUuid } } }
}
"""


def test_the_ui_s_graphql_gets_her_run_and_is_refused_bob_s(
    alice: MlflowClient, world: World, mlflow_url: str
) -> None:
    experiment_id = alice.create_experiment("alice-graphql")
    run_id = alice.create_run(experiment_id).info.run_id
    alice.create_registered_model("alice-graphql-model")
    alice.create_model_version("alice-graphql-model", f"runs:/{run_id}/model", run_id=run_id)
    # A version of Bob's model made from her run: MLflow lists it among her run's versions.
    direct = MlflowClient(mlflow_url, registry_uri=mlflow_url)
    direct.create_model_version(world.bob.model, f"runs:/{run_id}/model", run_id=run_id)

    def graphql(query: str, data: dict[str, object]) -> tuple[int, Any]:
        status, _, answer = exchange(
            world.api.removesuffix("/api/mlflow"),
            "POST",
            "/api/mlflow/graphql",
            {"Authorization": f"Bearer {world.alice}", "Content-Type": "application/json"},
            json.dumps({"query": query, "variables": {"data": data}}).encode(),
        )
        return status, json.loads(answer)

    status, answer = graphql(UI_GET_RUN, {"runId": run_id})
    assert status == 200, answer
    got = answer["data"]["mlflowGetRun"]["run"]
    assert (got["info"]["runUuid"], got["experiment"]["name"]) == (run_id, "alice-graphql")
    assert [v["name"] for v in got["modelVersions"]] == ["alice-graphql-model"]
    status, answer = graphql(UI_SEARCH_RUNS, {"experimentIds": [experiment_id]})
    assert status == 200, answer
    assert [r["info"]["runUuid"] for r in answer["data"]["mlflowSearchRuns"]["runs"]] == [run_id]
    for query, data, refusal in (
        (UI_GET_RUN, {"runId": world.bob.run_id}, (403, "PERMISSION_DENIED")),
        (
            UI_GET_RUN,
            {"runId": run_id, "runUuid": world.bob.run_id},
            (400, "INVALID_PARAMETER_VALUE"),
        ),
        (
            UI_SEARCH_RUNS,
            {"experimentIds": [experiment_id, world.bob.experiment_id]},
            (403, "PERMISSION_DENIED"),
        ),
    ):
        status, answer = graphql(query, data)
        assert (status, answer.get("error_code")) == refusal, answer
    status, answer = graphql(
        "query Q($data: MlflowSearchModelVersionsInput) "
        "{ mlflowSearchModelVersions(input: $data) { modelVersions { name } } }",
        {"filter": f"name='{world.bob.model}'"},
    )
    assert (status, answer["error_code"]) == (403, "PERMISSION_DENIED")


def test_her_traces_are_searched_and_fetched_in_batches_and_bob_s_refused(
    alice: MlflowClient, world: World
) -> None:
    experiment_id = alice.create_experiment("alice-traced")
    trace_id = alice.start_trace("alice-batched", experiment_id=experiment_id).trace_id
    alice.end_trace(trace_id)
    mlflow.flush_trace_async_logging()
    run_id = alice.create_run(experiment_id).info.run_id

    def post(path: str, body: dict[str, object]) -> tuple[int, Any]:
        status, _, answer = exchange(
            world.api.removesuffix("/api/mlflow"),
            "POST",
            "/api/mlflow" + path,
            {"Authorization": f"Bearer {world.alice}", "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
        return status, json.loads(answer)

    def located(*ids: str) -> dict[str, object]:
        return {"locations": [{"mlflow_experiment": {"experiment_id": i}} for i in ids]}

    status, answer = post("/api/3.0/mlflow/traces/search", located(experiment_id))
    assert status == 200, answer
    assert [t["trace_id"] for t in answer["traces"]] == [trace_id]
    status, answer = post("/api/3.0/mlflow/traces/batchGetInfos", {"trace_ids": [trace_id]})
    assert status == 200, answer
    assert [t["trace_id"] for t in answer["trace_infos"]] == [trace_id]
    status, answer = post(
        "/api/2.0/mlflow/traces/link-to-run", {"trace_ids": [trace_id], "run_id": run_id}
    )
    assert status == 200, answer
    # Reached MLflow, which signs uploads only for cloud storage, not its own proxied artifacts.
    status, answer = post(
        "/api/2.0/mlflow/artifacts/presigned-upload-url", {"run_id": run_id, "path": "x.bin"}
    )
    assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "proxied artifact storage" in answer["message"]
    for path, body in (
        ("/api/3.0/mlflow/traces/search", located(experiment_id, world.bob.experiment_id)),
        ("/api/3.0/mlflow/traces/batchGetInfos", {"trace_ids": [trace_id, world.bob.trace_id]}),
        (
            "/api/2.0/mlflow/traces/link-to-run",
            {"trace_ids": [world.bob.trace_id], "run_id": run_id},
        ),
        (
            "/api/2.0/mlflow/artifacts/presigned-upload-url",
            {"model_id": world.bob.logged_model_id, "path": "x"},
        ),
    ):
        status, answer = post(path, body)
        assert (status, answer["error_code"]) == (403, "PERMISSION_DENIED"), path


def test_her_dataset_is_hers_while_it_belongs_only_to_experiments_she_may_reach(
    alice: MlflowClient, world: World, mlflow_url: str
) -> None:
    experiment_id = alice.create_experiment("alice-evaluated")
    dataset_id = _create_dataset(world.api, "alice-dataset", [experiment_id], world.alice)
    base, headers = world.api, {"Authorization": f"Bearer {world.alice}"}
    got = requests.get(f"{base}/api/3.0/mlflow/datasets/{dataset_id}", headers=headers, timeout=30)
    assert got.status_code == 200 and got.json()["dataset"]["name"] == "alice-dataset"
    joined = requests.post(
        f"{base}/api/3.0/mlflow/datasets/{dataset_id}/add-experiments",
        json={"experiment_ids": [world.bob.experiment_id]},
        headers=headers,
        timeout=30,
    )
    assert joined.status_code == 403 and joined.json()["error_code"] == "PERMISSION_DENIED"
    # Once it belongs to Bob's experiment too, it is no longer hers alone.
    requests.post(
        f"{mlflow_url}/api/3.0/mlflow/datasets/{dataset_id}/add-experiments",
        json={"experiment_ids": [world.bob.experiment_id]},
        timeout=30,
    ).raise_for_status()
    got = requests.get(f"{base}/api/3.0/mlflow/datasets/{dataset_id}", headers=headers, timeout=30)
    assert got.status_code == 403 and got.json()["error_code"] == "PERMISSION_DENIED"


def test_scorers_are_listed_only_for_experiments_she_names_and_may_read(
    alice: MlflowClient, world: World
) -> None:
    experiment_id = alice.create_experiment("alice-scored")
    headers = {"Authorization": f"Bearer {world.alice}"}

    def listed(query: str) -> requests.Response:
        target = f"{world.api}/api/3.0/mlflow/scorers/list{query}"
        return requests.get(target, headers=headers, timeout=30)

    assert listed(f"?experiment_id={experiment_id}").status_code == 200
    assert listed(f"?experiment_ids={experiment_id}").status_code == 200
    # Naming no experiment, MLflow would list every experiment's scorers.
    everything = listed("")
    assert everything.status_code == 400
    assert everything.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    mixed = listed(f"?experiment_ids={experiment_id}&experiment_ids={world.bob.experiment_id}")
    assert mixed.status_code == 403 and mixed.json()["error_code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("GET", "/api/2.0/mlflow/runs/get?run_id={mine}&run_uuid={bob}", None),
        ("GET", "/api/2.0/mlflow/runs/get?run_id={mine}&run_id={bob}", None),
        ("POST", "/api/2.0/mlflow/runs/log-metric?run_id={bob}", {"run_id": "{mine}"}),
        ("POST", "/api/2.0/mlflow/runs/set-tag", {"run_id": "{mine}", "runId": "{bob}"}),
        ("POST", "/api/2.0/mlflow/runs/set-tag", {"run_id": "{mine}", "run_uuid": "{bob}"}),
        ("GET", "/api/2.0/mlflow/runs/get?run_id={mine}", {"run_id": "{bob}"}),
        (
            "GET",
            "/api/2.0/mlflow/experiments/get-by-name?experiment_name=alice-experiment"
            "&experiment_id={bob_experiment}",
            None,
        ),
    ],
)
def test_a_resource_named_twice_in_ways_that_disagree_is_refused(
    alice: MlflowClient, world: World, method: str, target: str, body: dict[str, str] | None
) -> None:
    [experiment] = [e for e in alice.search_experiments() if e.name == "alice-experiment"]
    mine = alice.search_runs([experiment.experiment_id])[0].info.run_id
    values = {"mine": mine, "bob": world.bob.run_id, "bob_experiment": world.bob.experiment_id}
    data = (
        b""
        if body is None
        else json.dumps({k: v.format(**values) for k, v in body.items()}).encode()
    )
    status, _, answer = exchange(
        world.api.removesuffix("/api/mlflow"),
        method,
        "/api/mlflow" + target.format(**values),
        {"Authorization": f"Bearer {world.alice}", "Content-Type": "application/json"},
        data,
    )
    assert status == 400, answer
    assert json.loads(answer)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_team_grant_on_an_experiment_name_prefix_lets_its_members_read(
    alice: MlflowClient, world: World, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = keys.store.create("viewer", Scope.READ, GENEROUS, default=Level.NO_PERMISSIONS)
    keys.store.grants.create_team("readers")
    keys.store.grants.add_member("readers", viewer.info.id)
    keys.store.grants.put(
        Grant(Principal.team("readers"), Resource.parse("experiment:alice-*"), Level.READ)
    )
    experiment_id = alice.create_experiment("alice-shared")
    run_id = alice.create_run(experiment_id).info.run_id
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", viewer.secret)
    reader = MlflowClient(world.api, registry_uri=world.api)
    assert reader.get_run(run_id).info.experiment_id == experiment_id
    shared = reader.get_experiment_by_name("alice-shared")
    assert shared is not None and shared.experiment_id == experiment_id
    assert {e.name for e in reader.search_experiments()} >= {"alice-shared"}
    assert all(e.name.startswith("alice-") for e in reader.search_experiments())
    for attempt in (
        lambda: reader.get_run(world.bob.run_id),
        lambda: reader.get_experiment_by_name(world.bob.experiment_name),
        lambda: reader.get_registered_model("alice-sentiment"),  # models: no grant
    ):
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            attempt()


def test_creating_grants_the_creator_manage_even_for_a_key_grants_do_not_restrict(
    world: World, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = keys.store.create("owner", Scope.WRITE, GENEROUS)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", writer.secret)
    client = MlflowClient(world.api, registry_uri=world.api)
    experiment_id = client.create_experiment("owned-experiment")
    client.create_registered_model("owned-model")
    owned = {
        str(g.resource): g.level for g in keys.store.grants.list(Principal.key(writer.info.id))
    }
    assert owned == {f"experiment:{experiment_id}": Level.MANAGE, "model:owned-model": Level.MANAGE}
    # Its grants only add to its scope: it still reaches Bob's things, as every write key did.
    assert client.get_run(world.bob.run_id).info.run_id == world.bob.run_id


@pytest.mark.parametrize("token", ["not-ours", "hk1.bm90IGpzb24", "hk1.WzEsIC0xLCAxXQ=="])
def test_a_page_token_the_gateway_did_not_give_is_refused(world: World, token: str) -> None:
    status, _, answer = exchange(
        world.api.removesuffix("/api/mlflow"),
        "GET",
        "/api/mlflow/api/2.0/mlflow/registered-models/search?" + urlencode({"page_token": token}),
        {"Authorization": f"Bearer {world.alice}"},
    )
    assert status == 400 and json.loads(answer)["error_code"] == "INVALID_PARAMETER_VALUE"
