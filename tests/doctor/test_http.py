"""The HTTP layer against the real gateway process, in front of a real MLflow or of nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from support.processes import free_port, start_gateway

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.catalog import diagnose
from hokusai_platform.doctor.session import open_context
from hokusai_platform.infra.expectations import Expectations


def run_http(expectations: Expectations, url: str) -> dict[str, CheckResult]:
    async def go() -> list[CheckResult]:
        async with open_context(expectations, url=url, with_aws=False) as context:
            return (await diagnose(context, {"http"})).results

    return {result.id: result for result in asyncio.run(go())}


@pytest.fixture(scope="module")
def gateway_without_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The outage as a client sees it: the gateway is up, MLflow is not reachable."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    log = tmp_path_factory.mktemp("doctor-gateway") / "gateway.log"
    server, url = start_gateway(log, {"MLFLOW_SERVER_URL": nowhere})
    yield url
    server.stop()


def test_a_healthy_gateway_is_green(expectations: Expectations, gateway_url: str) -> None:
    results = run_http(expectations, gateway_url)

    assert results["http.health"].status == "ok"
    assert results["http.health"].evidence.startswith("healthy, MLflow 3.")
    assert results["http.mlflow-version"].status == "ok"
    assert results["http.mlflow-version"].evidence.startswith("MLflow 3.")


def test_a_gateway_that_cannot_reach_mlflow_fails_both_checks(
    expectations: Expectations, gateway_without_mlflow: str
) -> None:
    results = run_http(expectations, gateway_without_mlflow)

    assert results["http.health"].status == "fail"
    assert "HTTP 503, unhealthy" in results["http.health"].evidence
    assert "MLflow" in results["http.health"].evidence
    assert results["http.mlflow-version"].status == "fail"
    assert "HTTP 502" in results["http.mlflow-version"].evidence


def test_a_url_that_is_not_the_registry_fails(expectations: Expectations, moto_url: str) -> None:
    results = run_http(expectations, moto_url)

    assert results["http.health"].status == "fail"
    assert "not a JSON health report" in results["http.health"].evidence


def test_nothing_listening_fails_without_a_crash(expectations: Expectations) -> None:
    results = run_http(expectations, f"http://127.0.0.1:{free_port()}")

    assert results["http.health"].status == "fail"
    assert "no answer" in results["http.health"].evidence
    assert results["http.mlflow-version"].status == "fail"


@pytest.fixture(scope="module")
def gateway_on_fallback(mlflow_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The outage with the workaround pinned: discovery has no answer, the fallback serves."""
    log = tmp_path_factory.mktemp("doctor-gateway-fallback") / "gateway.log"
    server, url = start_gateway(
        log,
        {
            "MLFLOW_SERVER_URL": "http://mlflow.hokusai-development.local:5000",
            "HOKUSAI_DNS_SERVERS": f"127.0.0.1:{free_port()}",  # no DNS server answers there
            "HOKUSAI_DISCOVERY_TIMEOUT": "0.5",
            "HOKUSAI_HEALTH_CACHE_SECONDS": "0",
            "MLFLOW_FALLBACK_URLS": mlflow_url,
        },
    )
    yield url
    server.stop()


def test_a_pinned_fallback_in_use_warns_with_its_age(
    expectations: Expectations, gateway_on_fallback: str, mlflow_url: str
) -> None:
    results = run_http(expectations, gateway_on_fallback)

    health = results["http.health"]
    assert health.status == "warn"
    assert "fallback active" in health.evidence
    assert f"pinned fallback in use: {mlflow_url.removeprefix('http://')}" in health.evidence
    assert re.search(r"\(for \d+ s\)", health.evidence)
    assert results["http.mlflow-version"].status == "ok"
