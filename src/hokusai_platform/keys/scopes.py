"""Which scope each MLflow route needs: an explicit table, checked against MLflow's own routes.

`read` may only read, and the searches MLflow does by POST count as reads. `write` may log,
create, update and register. `admin` may also hard-delete registered models, model versions
and artifacts, and manage the server itself (AI-gateway endpoints and secrets, webhooks,
workspaces, demo data). A route missing from the table (MLflow added it after this table
was written) needs `admin` until someone classifies it: a read key can never reach it, and
tests/security/test_scopes.py fails as soon as the installed MLflow has a route not listed here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

API_FAMILIES = ("/api/2.0/", "/api/3.0/", "/ajax-api/2.0/", "/ajax-api/3.0/")
# MLflow answers these without authentication itself; load balancers probe them.
PUBLIC = frozenset({("GET", "/health"), ("GET", "/version")})


class Scope(enum.Enum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, required: Scope) -> bool:
        return _RANK[self] >= _RANK[required]


_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}
READ, WRITE, ADMIN = Scope.READ, Scope.WRITE, Scope.ADMIN

# Routes under every API family (/api/2.0/, /api/3.0/, /ajax-api/2.0/, /ajax-api/3.0/).
API_ROUTES: tuple[tuple[str, str, Scope], ...] = (
    ("GET", "mlflow-artifacts/artifacts", READ),
    ("DELETE", "mlflow-artifacts/artifacts/{path}", ADMIN),
    ("GET", "mlflow-artifacts/artifacts/{path}", READ),
    ("PUT", "mlflow-artifacts/artifacts/{path}", WRITE),
    ("POST", "mlflow-artifacts/mpu/abort/{path}", WRITE),
    ("POST", "mlflow-artifacts/mpu/complete/{path}", WRITE),
    ("POST", "mlflow-artifacts/mpu/create/{path}", WRITE),
    ("GET", "mlflow-artifacts/presigned/{path}", READ),
    ("GET", "mlflow/artifacts/list", READ),
    ("POST", "mlflow/artifacts/presigned-download-url", READ),
    ("POST", "mlflow/artifacts/presigned-upload-url", WRITE),
    ("DELETE", "mlflow/datasets/{dataset_id}", WRITE),
    ("GET", "mlflow/datasets/{dataset_id}", READ),
    ("POST", "mlflow/datasets/{dataset_id}/add-experiments", WRITE),
    ("GET", "mlflow/datasets/{dataset_id}/experiment-ids", READ),
    ("DELETE", "mlflow/datasets/{dataset_id}/records", WRITE),
    ("GET", "mlflow/datasets/{dataset_id}/records", READ),
    ("POST", "mlflow/datasets/{dataset_id}/records", WRITE),
    ("POST", "mlflow/datasets/{dataset_id}/remove-experiments", WRITE),
    ("PATCH", "mlflow/datasets/{dataset_id}/tags", WRITE),
    ("DELETE", "mlflow/datasets/{dataset_id}/tags/{key}", WRITE),
    ("POST", "mlflow/datasets/create", WRITE),
    ("GET", "mlflow/datasets/search", READ),
    ("POST", "mlflow/datasets/search", READ),
    ("POST", "mlflow/demo/delete", ADMIN),
    ("POST", "mlflow/demo/generate", ADMIN),
    ("POST", "mlflow/experiments/create", WRITE),
    ("POST", "mlflow/experiments/delete", WRITE),
    ("POST", "mlflow/experiments/delete-experiment-tag", WRITE),
    ("GET", "mlflow/experiments/get", READ),
    ("GET", "mlflow/experiments/get-by-name", READ),
    ("POST", "mlflow/experiments/restore", WRITE),
    ("GET", "mlflow/experiments/search", READ),
    ("POST", "mlflow/experiments/search", READ),
    ("POST", "mlflow/experiments/search-datasets", READ),
    ("POST", "mlflow/experiments/set-experiment-tag", WRITE),
    ("POST", "mlflow/experiments/update", WRITE),
    ("GET", "mlflow/gateway-proxy", ADMIN),
    ("POST", "mlflow/gateway-proxy", ADMIN),
    ("POST", "mlflow/gateway/budgets/create", ADMIN),
    ("DELETE", "mlflow/gateway/budgets/delete", ADMIN),
    ("GET", "mlflow/gateway/budgets/get", READ),
    ("GET", "mlflow/gateway/budgets/list", READ),
    ("POST", "mlflow/gateway/budgets/update", ADMIN),
    ("GET", "mlflow/gateway/budgets/windows", READ),
    ("POST", "mlflow/gateway/endpoints/bindings/create", ADMIN),
    ("DELETE", "mlflow/gateway/endpoints/bindings/delete", ADMIN),
    ("GET", "mlflow/gateway/endpoints/bindings/list", READ),
    ("POST", "mlflow/gateway/endpoints/create", ADMIN),
    ("DELETE", "mlflow/gateway/endpoints/delete", ADMIN),
    ("DELETE", "mlflow/gateway/endpoints/delete-tag", ADMIN),
    ("GET", "mlflow/gateway/endpoints/get", READ),
    ("GET", "mlflow/gateway/endpoints/list", READ),
    ("POST", "mlflow/gateway/endpoints/models/attach", ADMIN),
    ("POST", "mlflow/gateway/endpoints/models/detach", ADMIN),
    ("POST", "mlflow/gateway/endpoints/set-tag", ADMIN),
    ("POST", "mlflow/gateway/endpoints/update", ADMIN),
    ("POST", "mlflow/gateway/guardrails/add-to-endpoint", ADMIN),
    ("POST", "mlflow/gateway/guardrails/create", ADMIN),
    ("DELETE", "mlflow/gateway/guardrails/delete", ADMIN),
    ("GET", "mlflow/gateway/guardrails/get", READ),
    ("GET", "mlflow/gateway/guardrails/list", READ),
    ("GET", "mlflow/gateway/guardrails/list-for-endpoint", READ),
    ("DELETE", "mlflow/gateway/guardrails/remove-from-endpoint", ADMIN),
    ("PATCH", "mlflow/gateway/guardrails/update-config", ADMIN),
    ("POST", "mlflow/gateway/model-definitions/create", ADMIN),
    ("DELETE", "mlflow/gateway/model-definitions/delete", ADMIN),
    ("GET", "mlflow/gateway/model-definitions/get", READ),
    ("GET", "mlflow/gateway/model-definitions/list", READ),
    ("POST", "mlflow/gateway/model-definitions/update", ADMIN),
    ("GET", "mlflow/gateway/provider-config", READ),
    ("GET", "mlflow/gateway/secrets/config", ADMIN),
    ("POST", "mlflow/gateway/secrets/create", ADMIN),
    ("DELETE", "mlflow/gateway/secrets/delete", ADMIN),
    ("GET", "mlflow/gateway/secrets/get", ADMIN),
    ("GET", "mlflow/gateway/secrets/list", ADMIN),
    ("POST", "mlflow/gateway/secrets/update", ADMIN),
    ("GET", "mlflow/gateway/supported-models", READ),
    ("GET", "mlflow/gateway/supported-providers", READ),
    ("POST", "mlflow/genai/evaluate/invoke", WRITE),
    ("GET", "mlflow/get-online-trace-details", READ),
    ("GET", "mlflow/get-trace-artifact", READ),
    ("POST", "mlflow/issues", WRITE),
    ("GET", "mlflow/issues/{issue_id}", READ),
    ("PATCH", "mlflow/issues/{issue_id}", WRITE),
    ("POST", "mlflow/issues/invoke", WRITE),
    ("POST", "mlflow/issues/search", READ),
    ("GET", "mlflow/jobs/{job_id}", READ),
    ("PATCH", "mlflow/jobs/cancel/{job_id}", WRITE),
    ("POST", "mlflow/label-schemas/create", WRITE),
    ("DELETE", "mlflow/label-schemas/delete", WRITE),
    ("GET", "mlflow/label-schemas/get", READ),
    ("GET", "mlflow/label-schemas/get-by-name", READ),
    ("GET", "mlflow/label-schemas/list", READ),
    ("PATCH", "mlflow/label-schemas/update", WRITE),
    ("POST", "mlflow/logged-models", WRITE),
    ("DELETE", "mlflow/logged-models/{model_id}", WRITE),
    ("GET", "mlflow/logged-models/{model_id}", READ),
    ("PATCH", "mlflow/logged-models/{model_id}", WRITE),
    ("GET", "mlflow/logged-models/{model_id}/artifacts/directories", READ),
    ("GET", "mlflow/logged-models/{model_id}/artifacts/files", READ),
    ("POST", "mlflow/logged-models/{model_id}/params", WRITE),
    ("PATCH", "mlflow/logged-models/{model_id}/tags", WRITE),
    ("DELETE", "mlflow/logged-models/{model_id}/tags/{tag_key}", WRITE),
    ("POST", "mlflow/logged-models/search", READ),
    ("GET", "mlflow/metrics/get-history", READ),
    ("GET", "mlflow/metrics/get-history-bulk", READ),
    ("GET", "mlflow/metrics/get-history-bulk-interval", READ),
    ("POST", "mlflow/model-versions/create", WRITE),
    ("DELETE", "mlflow/model-versions/delete", ADMIN),
    ("DELETE", "mlflow/model-versions/delete-tag", WRITE),
    ("GET", "mlflow/model-versions/get", READ),
    ("GET", "mlflow/model-versions/get-download-uri", READ),
    ("GET", "mlflow/model-versions/search", READ),
    ("POST", "mlflow/model-versions/set-tag", WRITE),
    ("POST", "mlflow/model-versions/transition-stage", WRITE),
    ("PATCH", "mlflow/model-versions/update", WRITE),
    ("POST", "mlflow/prompt-optimization/jobs", WRITE),
    ("DELETE", "mlflow/prompt-optimization/jobs/{job_id}", WRITE),
    ("GET", "mlflow/prompt-optimization/jobs/{job_id}", READ),
    ("POST", "mlflow/prompt-optimization/jobs/{job_id}/cancel", WRITE),
    ("GET", "mlflow/prompt-optimization/jobs/search", READ),
    ("POST", "mlflow/prompt-optimization/jobs/search", READ),
    ("DELETE", "mlflow/registered-models/alias", WRITE),
    ("GET", "mlflow/registered-models/alias", READ),
    ("POST", "mlflow/registered-models/alias", WRITE),
    ("POST", "mlflow/registered-models/create", WRITE),
    ("DELETE", "mlflow/registered-models/delete", ADMIN),
    ("DELETE", "mlflow/registered-models/delete-tag", WRITE),
    ("GET", "mlflow/registered-models/get", READ),
    ("GET", "mlflow/registered-models/get-latest-versions", READ),
    ("POST", "mlflow/registered-models/get-latest-versions", READ),
    ("POST", "mlflow/registered-models/rename", WRITE),
    ("GET", "mlflow/registered-models/search", READ),
    ("POST", "mlflow/registered-models/set-tag", WRITE),
    ("PATCH", "mlflow/registered-models/update", WRITE),
    ("POST", "mlflow/review-queues/create", WRITE),
    ("POST", "mlflow/review-queues/delete", WRITE),
    ("GET", "mlflow/review-queues/get", READ),
    ("GET", "mlflow/review-queues/get-by-name", READ),
    ("POST", "mlflow/review-queues/get-or-create-user", WRITE),
    ("POST", "mlflow/review-queues/items/add", WRITE),
    ("GET", "mlflow/review-queues/items/list", READ),
    ("POST", "mlflow/review-queues/items/remove", WRITE),
    ("POST", "mlflow/review-queues/items/set-status", WRITE),
    ("GET", "mlflow/review-queues/list", READ),
    ("POST", "mlflow/review-queues/update", WRITE),
    ("POST", "mlflow/runs/create", WRITE),
    ("POST", "mlflow/runs/create-promptlab-run", WRITE),
    ("POST", "mlflow/runs/delete", WRITE),
    ("POST", "mlflow/runs/delete-tag", WRITE),
    ("GET", "mlflow/runs/get", READ),
    ("POST", "mlflow/runs/log-batch", WRITE),
    ("POST", "mlflow/runs/log-inputs", WRITE),
    ("POST", "mlflow/runs/log-metric", WRITE),
    ("POST", "mlflow/runs/log-model", WRITE),
    ("POST", "mlflow/runs/log-parameter", WRITE),
    ("POST", "mlflow/runs/outputs", WRITE),
    ("POST", "mlflow/runs/restore", WRITE),
    ("POST", "mlflow/runs/search", READ),
    ("POST", "mlflow/runs/set-tag", WRITE),
    ("POST", "mlflow/runs/update", WRITE),
    ("POST", "mlflow/scorer/invoke", WRITE),
    ("DELETE", "mlflow/scorers/delete", WRITE),
    ("GET", "mlflow/scorers/get", READ),
    ("GET", "mlflow/scorers/list", READ),
    ("PUT", "mlflow/scorers/online-config", WRITE),
    ("GET", "mlflow/scorers/online-configs", READ),
    ("POST", "mlflow/scorers/register", WRITE),
    ("GET", "mlflow/scorers/versions", READ),
    ("GET", "mlflow/server-info", READ),
    ("GET", "mlflow/traces", READ),
    ("POST", "mlflow/traces", WRITE),
    ("PATCH", "mlflow/traces/{request_id}", WRITE),
    ("GET", "mlflow/traces/{request_id}/info", READ),
    ("DELETE", "mlflow/traces/{request_id}/tags", WRITE),
    ("PATCH", "mlflow/traces/{request_id}/tags", WRITE),
    ("GET", "mlflow/traces/{trace_id}", READ),
    ("POST", "mlflow/traces/{trace_id}/assessments", WRITE),
    ("DELETE", "mlflow/traces/{trace_id}/assessments/{assessment_id}", WRITE),
    ("GET", "mlflow/traces/{trace_id}/assessments/{assessment_id}", READ),
    ("PATCH", "mlflow/traces/{trace_id}/assessments/{assessment_id}", WRITE),
    ("DELETE", "mlflow/traces/{trace_id}/tags", WRITE),
    ("PATCH", "mlflow/traces/{trace_id}/tags", WRITE),
    ("GET", "mlflow/traces/batchGet", READ),
    ("POST", "mlflow/traces/batchGetInfos", READ),
    ("POST", "mlflow/traces/calculate-filter-correlation", READ),
    ("POST", "mlflow/traces/delete-traces", WRITE),
    ("GET", "mlflow/traces/get", READ),
    ("POST", "mlflow/traces/link-prompts", WRITE),
    ("POST", "mlflow/traces/link-to-run", WRITE),
    ("POST", "mlflow/traces/metrics", READ),
    ("POST", "mlflow/traces/search", READ),
    ("GET", "mlflow/ui-telemetry", READ),
    ("POST", "mlflow/ui-telemetry", WRITE),
    ("GET", "mlflow/unified-traces", READ),
    ("POST", "mlflow/upload-artifact", WRITE),
    # Not MLflow's without its auth app: the gateway answers it (gateway/sessions.py).
    ("GET", "mlflow/users/current", READ),
    ("GET", "mlflow/webhooks", ADMIN),
    ("POST", "mlflow/webhooks", ADMIN),
    ("DELETE", "mlflow/webhooks/{webhook_id}", ADMIN),
    ("GET", "mlflow/webhooks/{webhook_id}", ADMIN),
    ("PATCH", "mlflow/webhooks/{webhook_id}", ADMIN),
    ("POST", "mlflow/webhooks/{webhook_id}/test", ADMIN),
    ("GET", "mlflow/workspaces", READ),
    ("POST", "mlflow/workspaces", ADMIN),
    ("DELETE", "mlflow/workspaces/{workspace_name}", ADMIN),
    ("GET", "mlflow/workspaces/{workspace_name}", READ),
    ("PATCH", "mlflow/workspaces/{workspace_name}", ADMIN),
)

# Routes outside the API families.
ROOT_ROUTES: tuple[tuple[str, str, Scope], ...] = (
    ("GET", "/", READ),
    ("GET", "/static-files/{path}", READ),
    ("GET", "/build/{path}", READ),
    ("GET", "/get-artifact", READ),
    ("GET", "/model-versions/get-artifact", READ),
    # MLflow's GraphQL "mutations" are searches (searchRuns, searchDatasets) and an echo.
    ("GET", "/graphql", READ),
    ("POST", "/graphql", READ),
    # MLflow registers this search without the slash after the version, too.
    ("POST", "/api/2.0mlflow/experiments/search-datasets", READ),
    ("POST", "/ajax-api/2.0mlflow/experiments/search-datasets", READ),
)

_PARAMETER = re.compile(r"\\\{(\w+)\\\}")


class _Routes:
    """Exact paths in a dict; parameterised ones as regular expressions."""

    def __init__(self, routes: Iterable[tuple[str, str, Scope]]) -> None:
        self._exact: dict[tuple[str, str], Scope] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Scope]] = []
        for method, path, scope in routes:
            if "{" not in path:
                self._exact[method, path] = scope
                continue
            # `{path}` is the rest (artifact paths have slashes); other parameters are one segment.
            pattern = _PARAMETER.sub(
                lambda match: ".+" if match[1] == "path" else "[^/]+", re.escape(path)
            )
            self._patterns.append((method, re.compile(pattern), scope))

    def find(self, method: str, path: str) -> Scope | None:
        scope = self._exact.get((method, path))
        if scope is not None:
            return scope
        for candidate_method, pattern, candidate_scope in self._patterns:
            if candidate_method == method and pattern.fullmatch(path):
                return candidate_scope
        return None


class RouteTable:
    """The scope a request needs, for a path as MLflow sees it (after /api/mlflow)."""

    def __init__(
        self,
        api_routes: Iterable[tuple[str, str, Scope]],
        root_routes: Iterable[tuple[str, str, Scope]],
    ) -> None:
        self._api = _Routes(api_routes)
        self._root = _Routes(root_routes)

    def find(self, method: str, path: str) -> Scope | None:
        """The scope listed for this route, or None when the table does not list it."""
        method = "GET" if method == "HEAD" else method
        for family in API_FAMILIES:
            if path.startswith(family):
                return self._api.find(method, path[len(family) :])
        return self._root.find(method, path)

    def required(self, method: str, path: str) -> Scope | None:
        """The scope needed; None for the public routes; ADMIN for routes not in the table."""
        if ("GET" if method == "HEAD" else method, path) in PUBLIC:
            return None
        return self.find(method, path) or ADMIN


ROUTES = RouteTable(API_ROUTES, ROOT_ROUTES)


def route_family(path: str) -> str:
    """The family a path belongs to, for the audit log: `api/2.0`, `mlflow-artifacts`, …"""
    for family in API_FAMILIES:
        if path.startswith(family):
            kind = "mlflow-artifacts" if path[len(family) :].startswith("mlflow-artifacts/") else ""
            return kind or family.strip("/")
    head = path.strip("/").split("/", 1)[0]
    if path.startswith("/model-versions/get-artifact"):
        return "model-versions/get-artifact"
    return head if head in ("get-artifact", "graphql", "health", "version") else "ui"
