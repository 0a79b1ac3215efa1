"""The scope table covers every route of the installed MLflow, in every path family."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hokusai_platform.gateway.routes import ROUTES
from hokusai_platform.keys.scopes import ADMIN, API_FAMILIES, READ, WRITE, Scope


def _example(rule: str) -> str:
    """A concrete path for a werkzeug rule: `<path:p>` gets slashes, other parameters do not."""
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "a/b.txt" if m[1] == "path" else "x1", rule)


def _mlflow_routes() -> Iterator[tuple[str, str]]:
    from mlflow.server import app

    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, _example(rule.rule)


MLFLOW_ROUTES = sorted(set(_mlflow_routes()))


def test_the_installed_mlflow_has_routes_in_every_family() -> None:
    paths = {path for _, path in MLFLOW_ROUTES}
    for family in [*API_FAMILIES, "/api/2.0/mlflow-artifacts/mpu/", "/graphql", "/get-artifact"]:
        assert any(path.startswith(family) for path in paths), family


@pytest.mark.parametrize(("method", "path"), MLFLOW_ROUTES)
def test_every_mlflow_route_is_classified(method: str, path: str) -> None:
    assert ROUTES.find(method, path) is not None or ROUTES.required(method, path) is None, (
        f"{method} {path} is not in hokusai_platform/keys/gateway/routes.py: decide its scope"
    )


def test_a_read_key_may_read_and_nothing_else() -> None:
    reads = [(m, p) for m, p in MLFLOW_ROUTES if ROUTES.required(m, p) in (None, READ)]
    others = [(m, p) for m, p in MLFLOW_ROUTES if (m, p) not in reads]
    assert all(method in ("GET", "POST") for method, _ in reads)
    for method, path in reads:
        if method == "POST":
            assert re.search(
                r"search|get-latest|batchGet|metrics|correlation|download|graphql", path
            )
    assert all(not READ.allows(ROUTES.required(m, p) or READ) for m, p in others)
    assert len(others) > 100


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/api/2.0/mlflow/runs/search", READ),
        ("POST", "/ajax-api/2.0/mlflow/experiments/search", READ),
        ("POST", "/api/2.0/mlflow/registered-models/get-latest-versions", READ),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl", READ),
        ("GET", "/api/2.0/mlflow-artifacts/presigned/1/abc/model.pkl", READ),
        ("GET", "/get-artifact", READ),
        ("GET", "/model-versions/get-artifact", READ),
        ("POST", "/graphql", READ),
        ("POST", "/api/2.0/mlflow/runs/log-metric", WRITE),
        ("POST", "/api/2.0/mlflow/registered-models/create", WRITE),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl", WRITE),
        ("POST", "/api/2.0/mlflow-artifacts/mpu/create/1/abc/model.pkl", WRITE),
        ("POST", "/ajax-api/2.0/mlflow-artifacts/mpu/complete/1/abc/model.pkl", WRITE),
        ("POST", "/api/2.0/mlflow/experiments/delete", WRITE),
        ("DELETE", "/api/2.0/mlflow/registered-models/delete", ADMIN),
        ("DELETE", "/ajax-api/2.0/mlflow/model-versions/delete", ADMIN),
        ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/1/abc/model.pkl", ADMIN),
        ("POST", "/api/3.0/mlflow/gateway/secrets/create", ADMIN),
        ("GET", "/api/3.0/mlflow/gateway/secrets/list", ADMIN),
        ("POST", "/api/2.0/mlflow/webhooks", ADMIN),
    ],
)
def test_representative_routes(method: str, path: str, scope: Scope) -> None:
    assert ROUTES.required(method, path) is scope


def test_version_and_health_need_no_key() -> None:
    assert ROUTES.required("GET", "/version") is None
    assert ROUTES.required("HEAD", "/health") is None
    assert ROUTES.required("POST", "/health") is ADMIN


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/2.0/mlflow/not-a-route"),
        ("POST", "/api/2.0/mlflow/runs/search/"),
        ("GET", "/api/4.0/mlflow/runs/get"),
        ("POST", "/api/2.0/mlflow/experiments/get"),
        ("GET", "/admin"),
    ],
)
def test_routes_not_in_the_table_need_admin(method: str, path: str) -> None:
    assert ROUTES.find(method, path) is None
    assert ROUTES.required(method, path) is ADMIN


def test_scopes_are_ordered() -> None:
    assert ADMIN.allows(WRITE) and ADMIN.allows(READ) and WRITE.allows(READ)
    assert not READ.allows(WRITE) and not WRITE.allows(ADMIN)
