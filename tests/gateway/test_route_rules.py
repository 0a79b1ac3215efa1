"""The route table's rules: a route that names a resource has a rule, or is closed to every key
whose grants restrict it."""

from __future__ import annotations

import re

import pytest

from hokusai_platform.gateway.request_names import Contradiction, RequestNames
from hokusai_platform.gateway.routes import API_ROUTES, ROOT_ROUTES, ROUTES
from hokusai_platform.gateway.rules import NONE, Action, Kind, Rule, Source
from hokusai_platform.keys.grants import Level
from hokusai_platform.keys.scopes import ADMIN

ROWS = [*API_ROUTES, *ROOT_ROUTES]
# The only routes that name no experiment and no registered model: the AI gateway, webhooks,
# workspaces, the server's own information, the UI's files, the demo data.
NAMES_NOTHING = re.compile(
    r"mlflow/gateway(-proxy|/)|mlflow/webhooks|mlflow/workspaces|mlflow/server-info|"
    r"mlflow/ui-telemetry|mlflow/users/current|mlflow/demo/|mlflow/unified-traces|"
    r"mlflow/get-online-trace-details|^/$|^/static-files/|^/build/|"
    r"mlflow/experiments/create$"
)


@pytest.mark.parametrize(("method", "path", "scope", "rule"), ROWS)
def test_a_route_naming_a_resource_has_a_rule_or_is_unruled(
    method: str, path: str, scope: object, rule: Rule
) -> None:
    """`UNRULED` is always safe (closed to restricted keys); `NONE` only where nothing is named."""
    if rule == NONE:
        assert NAMES_NOTHING.search(path), f"{method} {path} names something: give it a rule"
    assert rule.ruled or not rule.names


@pytest.mark.parametrize(("method", "path", "scope", "rule"), ROWS)
def test_each_rule_reads_where_the_route_can_carry_it(
    method: str, path: str, scope: object, rule: Rule
) -> None:
    for names in rule.names:
        if names.source is Source.PATH:
            assert all(f"{{{field}}}" in path for field in names.fields), (method, path)
        if names.level is Level.MANAGE:
            assert method == "DELETE" or re.search(r"/(delete|restore)(-traces)?$", path), (
                method,
                path,
            )
        if method == "GET":
            assert names.level is Level.READ, (method, path)


def test_reads_need_read_changes_edit_and_deletes_manage() -> None:
    levels = {
        (method, path): {names.level for names in rule.names}
        for method, path, _, rule in ROWS
        if rule.names
    }
    assert levels["POST", "mlflow/runs/log-metric"] == {Level.EDIT}
    assert levels["POST", "mlflow/experiments/delete"] == {Level.MANAGE}
    assert levels["DELETE", "mlflow/registered-models/delete"] == {Level.MANAGE}
    assert levels["GET", "mlflow/model-versions/get"] == {Level.READ}
    assert levels["POST", "mlflow/registered-models/rename"] == {Level.EDIT}


@pytest.mark.parametrize(
    ("method", "path", "kind", "params"),
    [
        ("GET", "/api/2.0/mlflow/runs/get", Kind.RUN, {}),
        ("GET", "/ajax-api/2.0/mlflow/metrics/get-history", Kind.RUN, {}),
        (
            "PATCH",
            "/api/2.0/mlflow/logged-models/m-1/tags",
            Kind.LOGGED_MODEL,
            {"model_id": "m-1"},
        ),
        ("GET", "/api/3.0/mlflow/traces/tr-1", Kind.TRACE, {"trace_id": "tr-1"}),
        (
            "PUT",
            "/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts/x.pkl",
            Kind.EXPERIMENT,
            {"path": "7/r/artifacts/x.pkl"},
        ),
        ("GET", "/model-versions/get-artifact", Kind.MODEL, {}),
        ("GET", "/api/2.0/mlflow/experiments/get-by-name", Kind.EXPERIMENT_NAME, {}),
    ],
)
def test_a_request_finds_its_rule_and_path_parameters(
    method: str, path: str, kind: Kind, params: dict[str, str]
) -> None:
    route = ROUTES.route(method, path)
    assert route is not None
    assert [names.kind for names in route.rule.names] == [kind]
    assert route.params == params


def test_searches_and_creations_carry_their_action() -> None:
    for path in ("mlflow/experiments/search", "mlflow/registered-models/search"):
        route = ROUTES.route("GET", f"/api/2.0/{path}")
        assert route is not None and route.rule.action is not None
    route = ROUTES.route("POST", "/api/2.0/mlflow/experiments/create")
    assert route is not None and route.rule.action is Action.OWN_EXPERIMENT
    for method in ("GET", "POST"):
        route = ROUTES.route(method, "/graphql")
        assert route is not None and route.rule.action is Action.GRAPHQL


def test_an_unlisted_route_needs_admin_and_is_unruled() -> None:
    route = ROUTES.route("GET", "/api/2.0/mlflow/not-a-route")
    assert route is not None and route.scope is ADMIN and not route.rule.ruled


def test_a_trace_search_names_the_experiment_of_each_location() -> None:
    route = ROUTES.route("POST", "/api/3.0/mlflow/traces/search")
    assert route is not None
    [names] = route.rule.names
    located = RequestNames.of_message(
        {
            "locations": [
                {"mlflow_experiment": {"experiment_id": "1"}},
                {"mlflowExperiment": {"experimentId": "2"}},
            ]
        }
    )
    assert located.read(names).ids == ("1", "2")
    elsewhere = RequestNames.of_message(
        {"locations": [{"mlflow_experiment": {"experiment_id": "1"}}, {"uc_schema": {}}]}
    )
    with pytest.raises(Contradiction):
        elsewhere.read(names)


def test_a_presigned_upload_names_its_run_or_its_logged_model() -> None:
    route = ROUTES.route("POST", "/api/2.0/mlflow/artifacts/presigned-upload-url")
    assert route is not None
    message = RequestNames.of_message({"model_id": "m-1", "path": "x.bin"})
    assert [message.read(names).ids for names in route.rule.names] == [(), ("m-1",)]
    assert [names.kind for names in route.rule.names] == [Kind.RUN, Kind.LOGGED_MODEL]
