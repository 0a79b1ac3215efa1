"""Every path family MLflow serves answers through the gateway exactly as it does directly."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

Answer = tuple[int, bytes]


def _call(url: str, method: str = "GET", body: bytes | None = None) -> Answer:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _json(payload: object) -> bytes:
    return json.dumps(payload).encode()


@pytest.fixture(scope="module")
def run_with_artifact(mlflow_url: str) -> dict[str, str]:
    """A run with one artifact and a registered model version pointing at it, made directly."""
    _, created = _call(
        f"{mlflow_url}/api/2.0/mlflow/experiments/create", "POST", _json({"name": "families"})
    )
    experiment_id = json.loads(created)["experiment_id"]
    _, run = _call(
        f"{mlflow_url}/api/2.0/mlflow/runs/create",
        "POST",
        _json({"experiment_id": experiment_id}),
    )
    info = json.loads(run)["run"]["info"]
    artifact_root = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    status, _ = _call(
        f"{mlflow_url}/api/2.0/mlflow-artifacts/artifacts/{artifact_root}/notes.txt",
        "PUT",
        b"hello from the registry",
    )
    assert status == 200
    _call(
        f"{mlflow_url}/api/2.0/mlflow/registered-models/create",
        "POST",
        _json({"name": "families-model"}),
    )
    _call(
        f"{mlflow_url}/api/2.0/mlflow/model-versions/create",
        "POST",
        _json({"name": "families-model", "source": info["artifact_uri"], "run_id": info["run_id"]}),
    )
    return {
        "experiment_id": experiment_id,
        "run_id": info["run_id"],
        "artifact_root": artifact_root,
    }


READS = [
    ("GET", "/version", None),
    ("GET", "/health", None),
    ("POST", "/api/2.0/mlflow/experiments/search", _json({"max_results": 50})),
    ("POST", "/ajax-api/2.0/mlflow/experiments/search", _json({"max_results": 50})),
    ("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=families", None),
    ("POST", "/api/3.0/mlflow/traces/search", _json({"locations": []})),
    ("GET", "/api/2.0/mlflow/registered-models/get?name=families-model", None),
    ("GET", "/api/2.0/mlflow/runs/get?run_id=does-not-exist", None),
    (
        "POST",
        "/graphql",
        _json(
            {
                "query": 'query { mlflowGetExperiment(input: {experimentId: "0"}) '
                "{ experiment { name } } }"
            }
        ),
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=[p for _, p, _ in READS])
def test_reads_answer_as_mlflow_does(
    gateway_url: str,
    mlflow_url: str,
    run_with_artifact: dict[str, str],
    method: str,
    path: str,
    body: bytes | None,
) -> None:
    direct = _call(mlflow_url + path, method, body)
    proxied = _call(f"{gateway_url}/api/mlflow{path}", method, body)
    assert proxied == direct


def test_artifact_downloads_by_every_route(
    gateway_url: str, run_with_artifact: dict[str, str]
) -> None:
    api = f"{gateway_url}/api/mlflow"
    root, run_id = run_with_artifact["artifact_root"], run_with_artifact["run_id"]
    expected = (200, b"hello from the registry")
    assert _call(f"{api}/api/2.0/mlflow-artifacts/artifacts/{root}/notes.txt") == expected
    assert _call(f"{api}/ajax-api/2.0/mlflow-artifacts/artifacts/{root}/notes.txt") == expected
    assert _call(f"{api}/get-artifact?path=notes.txt&run_uuid={run_id}") == expected
    assert (
        _call(f"{api}/model-versions/get-artifact?path=notes.txt&name=families-model&version=1")
        == expected
    )
    status, listing = _call(f"{api}/api/2.0/mlflow-artifacts/artifacts?path={root}")
    assert status == 200
    assert [entry["path"] for entry in json.loads(listing)["files"]] == ["notes.txt"]


def test_artifact_upload_and_delete(gateway_url: str, mlflow_url: str) -> None:
    path = "/api/2.0/mlflow-artifacts/artifacts/uploads/through-gateway.txt"
    assert _call(f"{gateway_url}/api/mlflow{path}", "PUT", b"payload")[0] == 200
    assert _call(mlflow_url + path) == (200, b"payload")
    assert _call(f"{gateway_url}/api/mlflow{path}", "DELETE")[0] == 200
    assert _call(mlflow_url + path)[0] != 200


@pytest.mark.parametrize("step", ["create", "complete", "abort"])
def test_multipart_upload_routes_reach_mlflow(gateway_url: str, mlflow_url: str, step: str) -> None:
    # The local artifact store has no multipart upload, so MLflow refuses: the gateway must
    # carry MLflow's own refusal, not one of its own.
    path = f"/api/2.0/mlflow-artifacts/mpu/{step}/uploads/big.bin"
    body = _json({"path": "big.bin", "num_parts": 2, "upload_id": "u", "parts": []})
    assert _call(f"{gateway_url}/api/mlflow{path}", "POST", body) == _call(
        mlflow_url + path, "POST", body
    )
