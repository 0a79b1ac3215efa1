"""Fuzzing the gateway's own OpenAPI document finds no server error, with or without a key."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from support.echo_upstream import EchoUpstream
from support.secured import Keys


def test_no_operation_of_the_gateway_answers_5xx(
    guarded_echo: tuple[str, Path], keys: Keys, echo: EchoUpstream
) -> None:
    before = len(echo.received)
    schema = schemathesis.openapi.from_url(f"{guarded_echo[0]}/openapi.json")
    credentials = [{}, {"Authorization": f"Bearer {keys.read}"}, {"X-API-Key": keys.admin}]
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzzed.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            derandomize=True,  # the same examples on every run: a failure can be replayed
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: schemathesis.Case) -> None:
            for headers in credentials:
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])
                assert response.status_code < 500, (case.method, case.path, response.text)

        no_server_error()
    assert "POST /api/mlflow/{path}" in fuzzed and "GET /health" in fuzzed
    assert (
        "POST /api/admin/v1/keys" in fuzzed and "PUT /api/admin/v1/keys/{key_id}/limits" in fuzzed
    )
    assert "POST /login" in fuzzed and "GET /login/link" in fuzzed
    assert len(echo.received) - before > 20, "the fuzzed requests with a key reached the proxy"
