"""Keys pinned to an MLflow workspace, against a real MLflow run with workspaces enabled and the
stock client (issue 24, item 5).

Workspaces `team-a` and `team-b` exist; `team-b` has an experiment of its own. A key pinned to
`team-a` works in `team-a` whatever its client asks for by default, is refused (403, MLflow's
error shape) when it asks for another workspace, and never sees another's experiments. A key
with no workspace reaches whichever workspace its caller names, as before pinning existed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from support.processes import start_gateway, start_mlflow
from support.secured import GENEROUS, Keys, exchange, secured_env

from hokusai_platform.keys.grants import Grant, Level, Principal, Resource
from hokusai_platform.keys.scopes import Scope

SEARCH = "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=100"


@dataclass(frozen=True)
class World:
    mlflow: str  # MLflow itself, for checking where things landed
    artifacts: Path  # MLflow's artifact store
    gateway: str
    pinned: str  # a write key pinned to team-a
    free: str  # a write key with no workspace
    pinned_contributor: str  # pinned to team-a, with grants that restrict it
    b_experiment: str


@pytest.fixture(scope="module")
def world(keys: Keys, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("mlflow-workspaces")
    mlflow_server, mlflow_url = start_mlflow(data, env={"MLFLOW_ENABLE_WORKSPACES": "true"})
    direct = MlflowClient(mlflow_url)
    for workspace in ("team-a", "team-b"):
        direct.create_workspace(workspace)
    status, _, answer = exchange(
        mlflow_url,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        {"X-MLFLOW-WORKSPACE": "team-b", "Content-Type": "application/json"},
        b'{"name": "b-secret"}',
    )
    assert status == 200, answer
    pinned = keys.store.create("pinned", Scope.WRITE, GENEROUS, workspace="team-a")
    contributor = keys.store.create(
        "pinned-contributor",
        Scope.WRITE,
        GENEROUS,
        default=Level.NO_PERMISSIONS,
        workspace="team-a",
    )
    keys.store.grants.put(
        Grant(Principal.key(contributor.info.id), Resource.parse("experiment:a-*"), Level.READ)
    )
    directory = tmp_path_factory.mktemp("gateway-workspaces")
    gateway, url = start_gateway(
        directory / "gateway.log", secured_env(keys, redis_url, MLFLOW_SERVER_URL=mlflow_url)
    )
    yield World(
        mlflow_url,
        data / "artifacts",
        url,
        pinned.secret,
        keys.write,
        contributor.secret,
        json.loads(answer)["experiment_id"],
    )
    gateway.stop()
    mlflow_server.stop()


def client(world: World, key: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(f"{world.gateway}/api/mlflow")


def experiments_in(world: World, workspace: str) -> set[str]:
    """The names of a workspace's experiments, as MLflow itself lists them."""
    status, _, answer = exchange(
        world.mlflow,
        "GET",
        "/api/2.0/mlflow/experiments/search?max_results=100",
        {"X-MLFLOW-WORKSPACE": workspace},
    )
    assert status == 200, answer
    return {experiment["name"] for experiment in json.loads(answer).get("experiments", [])}


def search(world: World, key: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    status, _, answer = exchange(
        world.gateway, "GET", SEARCH, {"Authorization": f"Bearer {key}", **headers}
    )
    return status, json.loads(answer)


def test_a_pinned_key_works_in_its_workspace_without_naming_it(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    pinned = client(world, world.pinned, monkeypatch)
    experiment_id = pinned.create_experiment("a-first")
    run_id = pinned.create_run(experiment_id).info.run_id
    pinned.log_metric(run_id, "loss", 0.5)
    assert "a-first" in experiments_in(world, "team-a")
    assert "a-first" not in experiments_in(world, "default")
    names = {experiment.name for experiment in pinned.search_experiments()}
    assert "a-first" in names
    assert names.isdisjoint({"b-secret", "Default"})
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        pinned.get_experiment(world.b_experiment)
    (tmp_path / "weights.txt").write_text("w")
    pinned.log_artifact(run_id, str(tmp_path / "weights.txt"), artifact_path="model")
    assert [a.path for a in pinned.list_artifacts(run_id, "model")] == ["model/weights.txt"]
    assert list(world.artifacts.glob("workspaces/team-a/**/weights.txt")), "stored under team-a"


def test_a_pinned_key_may_name_its_own_workspace(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    pinned = client(world, world.pinned, monkeypatch)
    pinned.create_experiment("a-named")
    assert "a-named" in experiments_in(world, "team-a")


def test_a_pinned_key_asking_for_another_workspace_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-b")
    pinned = client(world, world.pinned, monkeypatch)
    with pytest.raises(MlflowException, match="PERMISSION_DENIED") as refused:
        pinned.create_experiment("a-lost")
    assert "team-a" in str(refused.value) and "team-b" in str(refused.value)
    assert "a-lost" not in experiments_in(world, "team-a") | experiments_in(world, "team-b")
    for asked in ({"X-MLFLOW-WORKSPACE": "default"}, {"x_mlflow_workspace": "team-b"}):
        status, answer = search(world, world.pinned, asked)
        assert status == 403
        assert answer["error_code"] == "PERMISSION_DENIED"
        assert "pinned to workspace 'team-a'" in str(answer["message"])


def test_a_pinned_admin_key_manages_its_own_workspace_and_no_other(
    world: World, keys: Keys
) -> None:
    admin = keys.store.create("pinned-admin", Scope.ADMIN, GENEROUS, workspace="team-a").secret
    bearer = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    api = "/api/mlflow/api/3.0/mlflow/workspaces"
    status, _, answer = exchange(world.gateway, "GET", f"{api}/team-a", bearer)
    assert status == 200, answer
    assert json.loads(answer)["workspace"]["name"] == "team-a"
    for method, path, body in (
        ("GET", api, b""),
        ("POST", api, b'{"name": "team-c"}'),
        ("GET", f"{api}/team-b", b""),
        ("DELETE", f"{api}/team-b", b""),
        ("PATCH", f"{api}/team-b", b'{"description": "mine now"}'),
    ):
        status, _, answer = exchange(world.gateway, method, path, bearer, body)
        assert (status, json.loads(answer)["error_code"]) == (403, "PERMISSION_DENIED"), path
    status, _, _ = exchange(world.mlflow, "GET", "/api/3.0/mlflow/workspaces/team-b")
    assert status == 200, "team-b is still there"


def test_a_key_with_no_workspace_reaches_the_one_its_caller_names(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for workspace, expected, absent in (
        ("team-b", "b-secret", "Default"),
        ("default", "Default", "b-secret"),
    ):
        status, answer = search(world, world.free, {"X-MLFLOW-WORKSPACE": workspace})
        assert status == 200
        names = {e["name"] for e in answer["experiments"]}
        assert expected in names and absent not in names
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-b")
    free = client(world, world.free, monkeypatch)
    assert free.get_experiment(world.b_experiment).name == "b-secret"


def test_a_pinned_key_with_grants_is_pinned_too(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    pinned = client(world, world.pinned, monkeypatch)
    experiment_id = pinned.create_experiment("a-granted")
    run_id = pinned.create_run(experiment_id).info.run_id
    contributor = client(world, world.pinned_contributor, monkeypatch)
    names = {experiment.name for experiment in contributor.search_experiments()}
    assert "a-granted" in names  # the gateway's own search asked in team-a
    assert names.isdisjoint({"b-secret", "Default"})
    assert contributor.get_run(run_id).info.experiment_id == experiment_id  # looked up in team-a
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        contributor.create_run(experiment_id)  # READ on a-*, no more
    status, answer = search(world, world.pinned_contributor, {"X-MLFLOW-WORKSPACE": "team-b"})
    assert status == 403 and answer["error_code"] == "PERMISSION_DENIED"
