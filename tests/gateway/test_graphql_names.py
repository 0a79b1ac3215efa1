"""What a `/graphql` request names: each root field's `input` read as its REST route's message,
from the literal or the variables, and anything not understood left to unrestricted keys."""

from __future__ import annotations

import pytest

from hokusai_platform.gateway.graphql_names import (
    GraphQLRequest,
    NotUnderstood,
    readable_versions,
)
from hokusai_platform.gateway.request_names import Contradiction, Named
from hokusai_platform.gateway.rules import Kind
from hokusai_platform.keys.grants import Level

# The query the MLflow 3 UI sends for a run page, shortened.
UI_GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    run {
      info { runUuid experimentId }
      experiment { experimentId name }
      modelVersions { status version name source }
    }
  }
}
"""


def named(query: str, variables: dict[str, object] | None = None) -> list[Named]:
    return GraphQLRequest({"query": query, "variables": variables}).named()


def test_the_ui_s_get_run_names_the_run_in_its_variables() -> None:
    assert named(UI_GET_RUN, {"data": {"runId": "r1"}}) == [Named(Kind.RUN, Level.READ, ("r1",))]


def test_a_literal_input_and_a_variable_inside_it_are_read_too() -> None:
    query = (
        "query Q($e: [String]) { mlflowSearchRuns(input: {experimentIds: $e}) { nextPageToken } }"
    )
    assert named(query, {"e": ["1", "2"]}) == [Named(Kind.EXPERIMENT, Level.READ, ("1", "2"))]
    literal = '{ mlflowListArtifacts(input: {runUuid: "r2"}) { files { path } } }'
    assert named(literal) == [Named(Kind.RUN, Level.READ, ("r2",))]


def test_every_operation_is_read_not_only_the_one_operation_name_picks() -> None:
    query = """
    query Mine { mlflowGetRun(input: {runId: "mine"}) { run { info { runUuid } } } }
    query Bobs { mlflowGetExperiment(input: {experimentId: "7"}) { experiment { name } } }
    """
    assert named(query) == [
        Named(Kind.RUN, Level.READ, ("mine",)),
        Named(Kind.EXPERIMENT, Level.READ, ("7",)),
    ]


def test_an_echo_names_nothing() -> None:
    assert named('mutation { testMutation(inputString: "x") { output } __typename }') == []


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            '{ mlflowGetRun(input: {runId: "mine", runUuid: "bobs"}) { apiError { code } } }',
            None,
        ),
        (
            "query Q($d: MlflowGetRunInput) { mlflowGetRun(input: $d) { apiError { code } } }",
            {"d": "r1"},
        ),
        (
            "query Q($d: MlflowGetRunInput) { mlflowGetRun(input: $d) { apiError { code } } }",
            None,
        ),
        ("{ mlflowGetRun(input: {runId: 5}) { run { data { tags { key } } } } }", None),
        ("{ mlflowGetRun { apiError { code } } }", None),
        ("{ mlflowGetRun(input: {runId: ", None),
    ],
)
def test_a_run_named_ambiguously_or_not_at_all_is_refused(
    query: str, variables: dict[str, object] | None
) -> None:
    with pytest.raises(Contradiction):
        named(query, variables)


@pytest.mark.parametrize(
    "query",
    [
        "{ mlflowSearchModelVersions(input: {filter: \"name='bob'\"}) { modelVersions { name } } }",
        "{ __schema { types { name } } }",
        '{ ...Root } fragment Root on QueryType { mlflowGetRun(input: {runId: "r"}) { x } }',
        '{ ... on QueryType { test(inputString: "x") { output } } }',
    ],
)
def test_what_no_rule_reads_is_not_understood(query: str) -> None:
    with pytest.raises(NotUnderstood):
        named(query)


def test_a_run_s_model_versions_keep_only_readable_models_under_an_alias_or_fragment() -> None:
    request = GraphQLRequest(
        {
            "query": """
            query { mlflowSearchRuns(input: {experimentIds: ["1"]}) {
              runs { ...Versions mv: modelVersions { version } } } }
            fragment Versions on MlflowRunExtension { modelVersions { name version } }
            """
        }
    )
    data: dict[str, object] = {
        "mlflowSearchRuns": {
            "runs": [
                {
                    "modelVersions": [{"name": "alice-m", "version": "1"}, {"name": "bob-m"}],
                    "mv": [{"version": "1"}],
                }
            ]
        }
    }
    readable_versions(request, data, lambda name: name.startswith("alice-"))
    assert data == {
        "mlflowSearchRuns": {
            "runs": [{"modelVersions": [{"name": "alice-m", "version": "1"}], "mv": []}]
        }
    }
