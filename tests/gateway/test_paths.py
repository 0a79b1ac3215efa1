from __future__ import annotations

import pytest

from hokusai_platform.gateway.paths import PathRejected, upstream_target


@pytest.mark.parametrize(
    ("raw", "target"),
    [
        ("/api/mlflow/version", "/version"),
        ("/api/mlflow/api/2.0/mlflow/runs/get?run_id=abc", "/api/2.0/mlflow/runs/get?run_id=abc"),
        (
            "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/my%20model/MLmodel",
            "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/my%20model/MLmodel",
        ),
        ("/api/mlflow/get-artifact?path=../x&run_uuid=1", "/get-artifact?path=../x&run_uuid=1"),
        ("/api/mlflow/ajax-api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"),
        ("/api/mlflow/get-artifact/caf%C3%A9%E2%98%83", "/get-artifact/caf%C3%A9%E2%98%83"),
    ],
)
def test_accepted_targets_keep_their_exact_bytes(raw: str, target: str) -> None:
    assert upstream_target(raw) == target


@pytest.mark.parametrize(
    "raw",
    [
        "http://evil.example/api/mlflow/version",
        "//evil.example/api/mlflow/version",
        "/api/mlflow//evil.example/version",
        "/api/mlflow/../../etc/passwd",
        "/api/mlflow/api/2.0/../../admin",
        "/api/mlflow/%2e%2e/admin",
        "/api/mlflow/%2E%2E/admin",
        "/api/mlflow/.%2e/admin",
        "/api/mlflow/%252e%252e/admin",
        "/api/mlflow/./version",
        "/api/mlflow/runs/..",
        "/api/mlflow/runs/./get",
        "/api/mlflow/runs//get",
        "/api/mlflow/a%2f..%2fb",
        "/api/mlflow/a%5c..%5cb",
        "/api/mlflow/a\\..\\b",
        "/api/mlflow/version%00",
        "/api/mlflow/version%0d%0aX-Injected:1",
        "/api/mlflowversion",
        "/api/mlflow/%c0%ae%c0%ae/admin",  # '..' in overlong UTF-8
        "/api/mlflow/a/%c0%af../b",  # '/' in overlong UTF-8
        "/api/mlflow/%25c0%25ae%25c0%25ae/admin",  # the same, encoded once more
        "/api/mlflow/a%ffb",
        "/api/mlflow/a%ed%a0%80b",  # a UTF-16 surrogate
        "/api/mlflow/a%c3b",  # a sequence cut short
    ],
)
def test_escapes_are_rejected(raw: str) -> None:
    with pytest.raises(PathRejected):
        upstream_target(raw)
