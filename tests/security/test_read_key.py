"""A read key reaches every read route of MLflow, and no other, in every path family."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.echo_upstream import EchoUpstream
from support.secured import Keys, request

from hokusai_platform.gateway.routes import ROUTES
from hokusai_platform.keys.scopes import READ


def _example(rule: str) -> str:
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "a/b.txt" if m[1] == "path" else "x1", rule)


def _mlflow_routes() -> list[tuple[str, str]]:
    from mlflow.server import app

    return sorted(
        {
            (method, _example(rule.rule))
            for rule in app.url_map.iter_rules()
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        }
    )


def test_a_read_key_gets_403_on_every_route_that_changes_something(
    guarded_echo: tuple[str, Path], keys: Keys, echo: EchoUpstream
) -> None:
    gateway, _ = guarded_echo
    reached, refused = [], []
    for method, path in _mlflow_routes():
        before = len(echo.received)
        body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
        status, _, _ = request(
            gateway,
            method,
            "/api/mlflow" + path,
            {"Authorization": f"Bearer {keys.read}", "Content-Type": "application/json"},
            body,
        )
        required = ROUTES.required(method, path)
        if required in (None, READ):
            assert status == 200 and len(echo.received) == before + 1, (method, path, status)
            reached.append(path)
        else:
            assert status == 403 and len(echo.received) == before, (method, path, status)
            refused.append(path)
    families = ("/api/2.0/mlflow/", "/api/3.0/mlflow/", "/ajax-api/2.0/mlflow/",
                "/ajax-api/3.0/mlflow/", "/api/2.0/mlflow-artifacts/", "/graphql",
                "/get-artifact", "/model-versions/get-artifact")  # fmt: skip
    for family in families:
        assert any(path.startswith(family) for path in reached), family
    for family in (*families[:5], "/api/2.0/mlflow-artifacts/mpu/"):
        assert any(path.startswith(family) for path in refused), family
    assert len(refused) > 100


@pytest.mark.parametrize("scope", ["write", "admin"])
def test_registered_model_deletion_needs_admin(
    guarded_echo: tuple[str, Path], keys: Keys, scope: str
) -> None:
    gateway, _ = guarded_echo
    key = keys.write if scope == "write" else keys.admin
    status, _, _ = request(
        gateway,
        "DELETE",
        "/api/mlflow/api/2.0/mlflow/registered-models/delete",
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        b'{"name": "m"}',
    )
    assert status == (403 if scope == "write" else 200)
