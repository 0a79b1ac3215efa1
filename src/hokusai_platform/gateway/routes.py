"""The route table: for every MLflow route, the scope it needs and what it names.

Scopes: `read` may only read, and the searches MLflow does by POST count as reads. `write` may
log, create, update and register. `admin` may also hard-delete registered models, model
versions and artifacts, and manage the server itself (AI-gateway endpoints and secrets,
webhooks, workspaces, demo data). A route missing from the table (MLflow added it after this
table was written) needs `admin` until someone classifies it: a read key can never reach it,
and tests/security/test_scopes.py fails as soon as the installed MLflow has a route not
listed here.

Each route's rule (gateway/rules.py) says which experiment or registered model it names,
where MLflow reads that id (read from exactly there: gateway/request_names.py), and the level
of grant it needs: READ to read, EDIT to change, MANAGE to delete. `NONE`: the route names
no experiment or registered model. `UNRULED`: it names one that no rule reads yet, so only
keys whose grants never restrict them reach it (tests/security/test_route_rules.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hokusai_platform.gateway.rules import (
    NONE,
    UNRULED,
    Action,
    Rule,
    Source,
    act,
    artifact_path,
    dataset,
    experiment,
    experiment_name,
    experiments,
    logged_model,
    model,
    needs,
    optional,
    run,
    runs,
    trace,
    traces,
)
from hokusai_platform.keys.grants import Level
from hokusai_platform.keys.scopes import ADMIN, API_FAMILIES, PUBLIC, READ, WRITE, Scope

R, E, M = Level.READ, Level.EDIT, Level.MANAGE
V3_TRACE_EXPERIMENT = "trace.trace_info.trace_location.mlflow_experiment.experiment_id"
V3_SEARCH_EXPERIMENTS = "locations[].mlflow_experiment.experiment_id"

# Routes under every API family (/api/2.0/, /api/3.0/, /ajax-api/2.0/, /ajax-api/3.0/).
API_ROUTES: tuple[tuple[str, str, Scope, Rule], ...] = (
    ("GET", "mlflow-artifacts/artifacts", READ, needs(artifact_path(R, Source.MESSAGE))),
    ("DELETE", "mlflow-artifacts/artifacts/{path}", ADMIN, needs(artifact_path(M))),
    ("GET", "mlflow-artifacts/artifacts/{path}", READ, needs(artifact_path(R))),
    ("PUT", "mlflow-artifacts/artifacts/{path}", WRITE, needs(artifact_path(E))),
    ("POST", "mlflow-artifacts/mpu/abort/{path}", WRITE, needs(artifact_path(E))),
    ("POST", "mlflow-artifacts/mpu/complete/{path}", WRITE, needs(artifact_path(E))),
    ("POST", "mlflow-artifacts/mpu/create/{path}", WRITE, needs(artifact_path(E))),
    ("GET", "mlflow-artifacts/presigned/{path}", READ, needs(artifact_path(R))),
    ("GET", "mlflow/artifacts/list", READ, needs(run(R))),
    ("POST", "mlflow/artifacts/presigned-download-url", READ, needs(run(R, fields=("run_id",)))),
    # Exactly one of the two, or MLflow refuses it.
    (
        "POST",
        "mlflow/artifacts/presigned-upload-url",
        WRITE,
        needs(optional(run(E, fields=("run_id",))), optional(logged_model(E, Source.MESSAGE))),
    ),
    # An evaluation dataset: a key reaches it as far as each experiment it belongs to allows
    # (one that belongs to none: only unrestricted keys, so a restricted key creates one in
    # experiments it may edit).
    ("DELETE", "mlflow/datasets/{dataset_id}", WRITE, needs(dataset(M))),
    ("GET", "mlflow/datasets/{dataset_id}", READ, needs(dataset(R))),
    (
        "POST",
        "mlflow/datasets/{dataset_id}/add-experiments",
        WRITE,
        needs(dataset(E), experiments(E)),
    ),
    ("GET", "mlflow/datasets/{dataset_id}/experiment-ids", READ, needs(dataset(R))),
    ("DELETE", "mlflow/datasets/{dataset_id}/records", WRITE, needs(dataset(E))),
    ("GET", "mlflow/datasets/{dataset_id}/records", READ, needs(dataset(R))),
    ("POST", "mlflow/datasets/{dataset_id}/records", WRITE, needs(dataset(E))),
    (
        "POST",
        "mlflow/datasets/{dataset_id}/remove-experiments",
        WRITE,
        needs(dataset(E), experiments(E)),
    ),
    ("PATCH", "mlflow/datasets/{dataset_id}/tags", WRITE, needs(dataset(E))),
    ("DELETE", "mlflow/datasets/{dataset_id}/tags/{key}", WRITE, needs(dataset(E))),
    ("POST", "mlflow/datasets/create", WRITE, needs(optional(experiments(E)))),
    ("GET", "mlflow/datasets/search", READ, UNRULED),
    ("POST", "mlflow/datasets/search", READ, UNRULED),
    ("POST", "mlflow/demo/delete", ADMIN, NONE),
    ("POST", "mlflow/demo/generate", ADMIN, NONE),
    ("POST", "mlflow/experiments/create", WRITE, act(Action.OWN_EXPERIMENT)),
    (
        "POST",
        "mlflow/experiments/delete",
        WRITE,
        needs(experiment(M), action=Action.FORGET_EXPERIMENT),
    ),
    ("POST", "mlflow/experiments/delete-experiment-tag", WRITE, needs(experiment(E))),
    ("GET", "mlflow/experiments/get", READ, needs(experiment(R))),
    ("GET", "mlflow/experiments/get-by-name", READ, needs(experiment_name(R))),
    (
        "POST",
        "mlflow/experiments/restore",
        WRITE,
        needs(experiment(M), action=Action.FORGET_EXPERIMENT),
    ),
    ("GET", "mlflow/experiments/search", READ, act(Action.SEARCH_EXPERIMENTS)),
    ("POST", "mlflow/experiments/search", READ, act(Action.SEARCH_EXPERIMENTS)),
    ("POST", "mlflow/experiments/search-datasets", READ, needs(experiments(R))),
    ("POST", "mlflow/experiments/set-experiment-tag", WRITE, needs(experiment(E))),
    (
        "POST",
        "mlflow/experiments/update",
        WRITE,
        needs(experiment(E), action=Action.FORGET_EXPERIMENT),
    ),
    ("GET", "mlflow/gateway-proxy", ADMIN, NONE),
    ("POST", "mlflow/gateway-proxy", ADMIN, NONE),
    ("POST", "mlflow/gateway/budgets/create", ADMIN, NONE),
    ("DELETE", "mlflow/gateway/budgets/delete", ADMIN, NONE),
    ("GET", "mlflow/gateway/budgets/get", READ, NONE),
    ("GET", "mlflow/gateway/budgets/list", READ, NONE),
    ("POST", "mlflow/gateway/budgets/update", ADMIN, NONE),
    ("GET", "mlflow/gateway/budgets/windows", READ, NONE),
    ("POST", "mlflow/gateway/endpoints/bindings/create", ADMIN, NONE),
    ("DELETE", "mlflow/gateway/endpoints/bindings/delete", ADMIN, NONE),
    ("GET", "mlflow/gateway/endpoints/bindings/list", READ, NONE),
    ("POST", "mlflow/gateway/endpoints/create", ADMIN, NONE),
    ("DELETE", "mlflow/gateway/endpoints/delete", ADMIN, NONE),
    ("DELETE", "mlflow/gateway/endpoints/delete-tag", ADMIN, NONE),
    ("GET", "mlflow/gateway/endpoints/get", READ, NONE),
    ("GET", "mlflow/gateway/endpoints/list", READ, NONE),
    ("POST", "mlflow/gateway/endpoints/models/attach", ADMIN, NONE),
    ("POST", "mlflow/gateway/endpoints/models/detach", ADMIN, NONE),
    ("POST", "mlflow/gateway/endpoints/set-tag", ADMIN, NONE),
    ("POST", "mlflow/gateway/endpoints/update", ADMIN, NONE),
    ("POST", "mlflow/gateway/guardrails/add-to-endpoint", ADMIN, NONE),
    ("POST", "mlflow/gateway/guardrails/create", ADMIN, NONE),
    ("DELETE", "mlflow/gateway/guardrails/delete", ADMIN, NONE),
    ("GET", "mlflow/gateway/guardrails/get", READ, NONE),
    ("GET", "mlflow/gateway/guardrails/list", READ, NONE),
    ("GET", "mlflow/gateway/guardrails/list-for-endpoint", READ, NONE),
    ("DELETE", "mlflow/gateway/guardrails/remove-from-endpoint", ADMIN, NONE),
    ("PATCH", "mlflow/gateway/guardrails/update-config", ADMIN, NONE),
    ("POST", "mlflow/gateway/model-definitions/create", ADMIN, NONE),
    ("DELETE", "mlflow/gateway/model-definitions/delete", ADMIN, NONE),
    ("GET", "mlflow/gateway/model-definitions/get", READ, NONE),
    ("GET", "mlflow/gateway/model-definitions/list", READ, NONE),
    ("POST", "mlflow/gateway/model-definitions/update", ADMIN, NONE),
    ("GET", "mlflow/gateway/provider-config", READ, NONE),
    ("GET", "mlflow/gateway/secrets/config", ADMIN, NONE),
    ("POST", "mlflow/gateway/secrets/create", ADMIN, NONE),
    ("DELETE", "mlflow/gateway/secrets/delete", ADMIN, NONE),
    ("GET", "mlflow/gateway/secrets/get", ADMIN, NONE),
    ("GET", "mlflow/gateway/secrets/list", ADMIN, NONE),
    ("POST", "mlflow/gateway/secrets/update", ADMIN, NONE),
    ("GET", "mlflow/gateway/supported-models", READ, NONE),
    ("GET", "mlflow/gateway/supported-providers", READ, NONE),
    ("POST", "mlflow/genai/evaluate/invoke", WRITE, needs(experiment(E), traces(E))),
    ("GET", "mlflow/get-online-trace-details", READ, NONE),
    ("GET", "mlflow/get-trace-artifact", READ, needs(trace(R, Source.QUERY, "request_id"))),
    ("POST", "mlflow/issues", WRITE, UNRULED),
    ("GET", "mlflow/issues/{issue_id}", READ, UNRULED),
    ("PATCH", "mlflow/issues/{issue_id}", WRITE, UNRULED),
    ("POST", "mlflow/issues/invoke", WRITE, UNRULED),
    ("POST", "mlflow/issues/search", READ, UNRULED),
    ("GET", "mlflow/jobs/{job_id}", READ, UNRULED),
    ("PATCH", "mlflow/jobs/cancel/{job_id}", WRITE, UNRULED),
    ("POST", "mlflow/label-schemas/create", WRITE, UNRULED),
    ("DELETE", "mlflow/label-schemas/delete", WRITE, UNRULED),
    ("GET", "mlflow/label-schemas/get", READ, UNRULED),
    ("GET", "mlflow/label-schemas/get-by-name", READ, UNRULED),
    ("GET", "mlflow/label-schemas/list", READ, UNRULED),
    ("PATCH", "mlflow/label-schemas/update", WRITE, UNRULED),
    ("POST", "mlflow/logged-models", WRITE, needs(experiment(E))),
    ("DELETE", "mlflow/logged-models/{model_id}", WRITE, needs(logged_model(M))),
    ("GET", "mlflow/logged-models/{model_id}", READ, needs(logged_model(R))),
    ("PATCH", "mlflow/logged-models/{model_id}", WRITE, needs(logged_model(E))),
    ("GET", "mlflow/logged-models/{model_id}/artifacts/directories", READ, needs(logged_model(R))),
    ("GET", "mlflow/logged-models/{model_id}/artifacts/files", READ, needs(logged_model(R))),
    ("POST", "mlflow/logged-models/{model_id}/params", WRITE, needs(logged_model(E))),
    ("PATCH", "mlflow/logged-models/{model_id}/tags", WRITE, needs(logged_model(E))),
    ("DELETE", "mlflow/logged-models/{model_id}/tags/{tag_key}", WRITE, needs(logged_model(E))),
    ("POST", "mlflow/logged-models/search", READ, act(Action.SEARCH_LOGGED_MODELS)),
    ("GET", "mlflow/metrics/get-history", READ, needs(run(R))),
    ("GET", "mlflow/metrics/get-history-bulk", READ, needs(runs(R, Source.QUERY, "run_id"))),
    (
        "GET",
        "mlflow/metrics/get-history-bulk-interval",
        READ,
        needs(runs(R, Source.MESSAGE, "run_ids")),
    ),
    ("POST", "mlflow/model-versions/create", WRITE, needs(model(E))),
    ("DELETE", "mlflow/model-versions/delete", ADMIN, needs(model(M))),
    ("DELETE", "mlflow/model-versions/delete-tag", WRITE, needs(model(E))),
    ("GET", "mlflow/model-versions/get", READ, needs(model(R))),
    ("GET", "mlflow/model-versions/get-download-uri", READ, needs(model(R))),
    ("GET", "mlflow/model-versions/search", READ, act(Action.SEARCH_VERSIONS)),
    ("POST", "mlflow/model-versions/set-tag", WRITE, needs(model(E))),
    ("POST", "mlflow/model-versions/transition-stage", WRITE, needs(model(E))),
    ("PATCH", "mlflow/model-versions/update", WRITE, needs(model(E))),
    ("POST", "mlflow/prompt-optimization/jobs", WRITE, UNRULED),
    ("DELETE", "mlflow/prompt-optimization/jobs/{job_id}", WRITE, UNRULED),
    ("GET", "mlflow/prompt-optimization/jobs/{job_id}", READ, UNRULED),
    ("POST", "mlflow/prompt-optimization/jobs/{job_id}/cancel", WRITE, UNRULED),
    ("GET", "mlflow/prompt-optimization/jobs/search", READ, UNRULED),
    ("POST", "mlflow/prompt-optimization/jobs/search", READ, UNRULED),
    ("DELETE", "mlflow/registered-models/alias", WRITE, needs(model(E))),
    ("GET", "mlflow/registered-models/alias", READ, needs(model(R))),
    ("POST", "mlflow/registered-models/alias", WRITE, needs(model(E))),
    ("POST", "mlflow/registered-models/create", WRITE, needs(model(E), action=Action.OWN_MODEL)),
    ("DELETE", "mlflow/registered-models/delete", ADMIN, needs(model(M))),
    ("DELETE", "mlflow/registered-models/delete-tag", WRITE, needs(model(E))),
    ("GET", "mlflow/registered-models/get", READ, needs(model(R))),
    ("GET", "mlflow/registered-models/get-latest-versions", READ, needs(model(R))),
    ("POST", "mlflow/registered-models/get-latest-versions", READ, needs(model(R))),
    ("POST", "mlflow/registered-models/rename", WRITE, needs(model(E), model(E, field="new_name"))),
    ("GET", "mlflow/registered-models/search", READ, act(Action.SEARCH_MODELS)),
    ("POST", "mlflow/registered-models/set-tag", WRITE, needs(model(E))),
    ("PATCH", "mlflow/registered-models/update", WRITE, needs(model(E))),
    ("POST", "mlflow/review-queues/create", WRITE, UNRULED),
    ("POST", "mlflow/review-queues/delete", WRITE, UNRULED),
    ("GET", "mlflow/review-queues/get", READ, UNRULED),
    ("GET", "mlflow/review-queues/get-by-name", READ, UNRULED),
    ("POST", "mlflow/review-queues/get-or-create-user", WRITE, UNRULED),
    ("POST", "mlflow/review-queues/items/add", WRITE, UNRULED),
    ("GET", "mlflow/review-queues/items/list", READ, UNRULED),
    ("POST", "mlflow/review-queues/items/remove", WRITE, UNRULED),
    ("POST", "mlflow/review-queues/items/set-status", WRITE, UNRULED),
    ("GET", "mlflow/review-queues/list", READ, UNRULED),
    ("POST", "mlflow/review-queues/update", WRITE, UNRULED),
    ("POST", "mlflow/runs/create", WRITE, needs(experiment(E))),
    ("POST", "mlflow/runs/create-promptlab-run", WRITE, needs(experiment(E))),
    ("POST", "mlflow/runs/delete", WRITE, needs(run(M))),
    ("POST", "mlflow/runs/delete-tag", WRITE, needs(run(E))),
    ("GET", "mlflow/runs/get", READ, needs(run(R))),
    ("POST", "mlflow/runs/log-batch", WRITE, needs(run(E))),
    ("POST", "mlflow/runs/log-inputs", WRITE, needs(run(E))),
    ("POST", "mlflow/runs/log-metric", WRITE, needs(run(E))),
    ("POST", "mlflow/runs/log-model", WRITE, needs(run(E))),
    ("POST", "mlflow/runs/log-parameter", WRITE, needs(run(E))),
    ("POST", "mlflow/runs/outputs", WRITE, needs(run(E))),
    ("POST", "mlflow/runs/restore", WRITE, needs(run(M))),
    ("POST", "mlflow/runs/search", READ, act(Action.SEARCH_RUNS)),
    ("POST", "mlflow/runs/set-tag", WRITE, needs(run(E))),
    ("POST", "mlflow/runs/update", WRITE, needs(run(E))),
    ("POST", "mlflow/scorer/invoke", WRITE, needs(experiment(E), traces(E))),
    ("DELETE", "mlflow/scorers/delete", WRITE, needs(experiment(E))),
    ("GET", "mlflow/scorers/get", READ, needs(experiment(R))),
    # Without either, MLflow lists the scorers of every experiment.
    ("GET", "mlflow/scorers/list", READ, needs(optional(experiment(R)), optional(experiments(R)))),
    ("PUT", "mlflow/scorers/online-config", WRITE, UNRULED),
    ("GET", "mlflow/scorers/online-configs", READ, UNRULED),
    ("POST", "mlflow/scorers/register", WRITE, needs(experiment(E))),
    ("GET", "mlflow/scorers/versions", READ, needs(experiment(R))),
    ("GET", "mlflow/server-info", READ, NONE),
    ("GET", "mlflow/traces", READ, needs(experiments(R))),
    # 2.0 (StartTrace) reads `experiment_id`; 3.0 (StartTraceV3) the trace's location.
    ("POST", "mlflow/traces", WRITE, needs(experiment(E, "experiment_id", V3_TRACE_EXPERIMENT))),
    ("PATCH", "mlflow/traces/{request_id}", WRITE, needs(trace(E, field="request_id"))),
    ("GET", "mlflow/traces/{request_id}/info", READ, needs(trace(R, field="request_id"))),
    ("DELETE", "mlflow/traces/{request_id}/tags", WRITE, needs(trace(E, field="request_id"))),
    ("PATCH", "mlflow/traces/{request_id}/tags", WRITE, needs(trace(E, field="request_id"))),
    ("GET", "mlflow/traces/{trace_id}", READ, needs(trace(R))),
    ("POST", "mlflow/traces/{trace_id}/assessments", WRITE, needs(trace(E))),
    ("DELETE", "mlflow/traces/{trace_id}/assessments/{assessment_id}", WRITE, needs(trace(E))),
    ("GET", "mlflow/traces/{trace_id}/assessments/{assessment_id}", READ, needs(trace(R))),
    ("PATCH", "mlflow/traces/{trace_id}/assessments/{assessment_id}", WRITE, needs(trace(E))),
    ("DELETE", "mlflow/traces/{trace_id}/tags", WRITE, needs(trace(E))),
    ("PATCH", "mlflow/traces/{trace_id}/tags", WRITE, needs(trace(E))),
    ("GET", "mlflow/traces/batchGet", READ, needs(traces(R))),
    ("POST", "mlflow/traces/batchGetInfos", READ, needs(traces(R))),
    ("POST", "mlflow/traces/calculate-filter-correlation", READ, needs(experiments(R))),
    # MLflow deletes only the traces of `experiment_id`, those listed or all up to a time.
    ("POST", "mlflow/traces/delete-traces", WRITE, needs(experiment(M))),
    ("GET", "mlflow/traces/get", READ, needs(trace(R, Source.MESSAGE))),
    ("POST", "mlflow/traces/link-prompts", WRITE, UNRULED),
    ("POST", "mlflow/traces/link-to-run", WRITE, needs(run(E, fields=("run_id",)), traces(E))),
    ("POST", "mlflow/traces/metrics", READ, needs(experiments(R))),
    # Only the traces of the experiments it searches: MLflow reads no other location here.
    ("POST", "mlflow/traces/search", READ, needs(experiments(R, V3_SEARCH_EXPERIMENTS))),
    ("GET", "mlflow/ui-telemetry", READ, NONE),
    ("POST", "mlflow/ui-telemetry", WRITE, NONE),
    ("GET", "mlflow/unified-traces", READ, NONE),
    ("POST", "mlflow/upload-artifact", WRITE, needs(run(E, Source.QUERY, ("run_uuid",)))),
    # Not MLflow's without its auth app: the gateway answers it (gateway/sessions.py).
    ("GET", "mlflow/users/current", READ, NONE),
    ("GET", "mlflow/webhooks", ADMIN, NONE),
    ("POST", "mlflow/webhooks", ADMIN, NONE),
    ("DELETE", "mlflow/webhooks/{webhook_id}", ADMIN, NONE),
    ("GET", "mlflow/webhooks/{webhook_id}", ADMIN, NONE),
    ("PATCH", "mlflow/webhooks/{webhook_id}", ADMIN, NONE),
    ("POST", "mlflow/webhooks/{webhook_id}/test", ADMIN, NONE),
    ("GET", "mlflow/workspaces", READ, NONE),
    ("POST", "mlflow/workspaces", ADMIN, NONE),
    ("DELETE", "mlflow/workspaces/{workspace_name}", ADMIN, NONE),
    ("GET", "mlflow/workspaces/{workspace_name}", READ, NONE),
    ("PATCH", "mlflow/workspaces/{workspace_name}", ADMIN, NONE),
)

# Routes outside the API families.
ROOT_ROUTES: tuple[tuple[str, str, Scope, Rule], ...] = (
    ("GET", "/", READ, NONE),
    ("GET", "/static-files/{path}", READ, NONE),
    ("GET", "/build/{path}", READ, NONE),
    ("GET", "/get-artifact", READ, needs(run(R, Source.QUERY))),
    ("GET", "/model-versions/get-artifact", READ, needs(model(R, Source.QUERY))),
    # MLflow's GraphQL "mutations" are searches (searchRuns, searchDatasets) and an echo; each
    # root field is read as its REST route (gateway/graphql_names.py).
    ("GET", "/graphql", READ, act(Action.GRAPHQL)),
    ("POST", "/graphql", READ, act(Action.GRAPHQL)),
    # MLflow registers this search without the slash after the version, too.
    ("POST", "/api/2.0mlflow/experiments/search-datasets", READ, needs(experiments(R))),
    ("POST", "/ajax-api/2.0mlflow/experiments/search-datasets", READ, needs(experiments(R))),
)

_PARAMETER = re.compile(r"\\\{(\w+)\\\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One request's route: the scope it needs, its rule, and its path's parameters."""

    scope: Scope
    rule: Rule
    params: dict[str, str]


class _Routes:
    """Exact paths in a dict; parameterised ones as regular expressions."""

    def __init__(self, routes: Iterable[tuple[str, str, Scope, Rule]]) -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Scope, Rule]] = []
        for method, path, scope, rule in routes:
            if "{" not in path:
                self._exact[method, path] = Route(scope, rule, {})
                continue
            # `{path}` is the rest (artifact paths have slashes); other parameters are one segment.
            pattern = _PARAMETER.sub(
                lambda match: f"(?P<{match[1]}>{'.+' if match[1] == 'path' else '[^/]+'})",
                re.escape(path),
            )
            self._patterns.append((method, re.compile(pattern), scope, rule))

    def find(self, method: str, path: str) -> Route | None:
        route = self._exact.get((method, path))
        if route is not None:
            return route
        for candidate_method, pattern, scope, rule in self._patterns:
            if candidate_method == method and (match := pattern.fullmatch(path)) is not None:
                return Route(scope, rule, match.groupdict())
        return None


class RouteTable:
    """What a request needs, for a path as MLflow sees it (after /api/mlflow)."""

    def __init__(
        self,
        api_routes: Iterable[tuple[str, str, Scope, Rule]],
        root_routes: Iterable[tuple[str, str, Scope, Rule]],
    ) -> None:
        self._api = _Routes(api_routes)
        self._root = _Routes(root_routes)
        # Routes the table does not list: admin only, and not to be proxied on a grant.
        self._unlisted = Route(ADMIN, UNRULED, {})

    def find(self, method: str, path: str) -> Route | None:
        """The route as listed, or None when the table does not list it."""
        method = "GET" if method == "HEAD" else method
        for family in API_FAMILIES:
            if path.startswith(family):
                return self._api.find(method, path[len(family) :])
        return self._root.find(method, path)

    def route(self, method: str, path: str) -> Route | None:
        """The route; None for the public ones; an admin-only one for routes not listed."""
        if ("GET" if method == "HEAD" else method, path) in PUBLIC:
            return None
        return self.find(method, path) or self._unlisted

    def required(self, method: str, path: str) -> Scope | None:
        """The scope needed; None for the public routes; ADMIN for routes not in the table."""
        route = self.route(method, path)
        return None if route is None else route.scope


ROUTES = RouteTable(API_ROUTES, ROOT_ROUTES)
