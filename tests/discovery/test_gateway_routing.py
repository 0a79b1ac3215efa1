"""The gateway resolving MLflow's name through discovery: each request goes to an endpoint of
the answer, with that endpoint as its Host, and a refused connection moves it to another."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.discovery import NAME, Discovery
from support.echo_upstream import EchoUpstream
from support.processes import Server, start_gateway

REFUSING = "127.0.0.9"  # nothing listens there


@pytest.fixture(scope="module")
def gateway(
    discovery_server: Discovery, echo: EchoUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = int(echo.url.rsplit(":", 1)[1])
    discovery_server.register("127.0.0.1", port, instance_id="echo", ttl=30)
    discovery_server.register(REFUSING, port, instance_id="refusing")
    log: Path = tmp_path_factory.mktemp("routing") / "gateway.log"
    server: Server
    server, url = start_gateway(
        log,
        {
            "MLFLOW_SERVER_URL": f"http://{NAME}:{port}",
            "HOKUSAI_DNS_SERVERS": f"127.0.0.1:{discovery_server.dns_port}",
            # Keep the refusing endpoint in rotation: every other request meets it first.
            "HOKUSAI_EJECT_AFTER_FAILURES": "1000",
        },
    )
    yield url
    server.stop()


def post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, json.load(answer)


def test_a_refused_connection_moves_even_a_post_to_another_endpoint_once(
    gateway: str, echo: EchoUpstream
) -> None:
    path = "/api/2.0/mlflow/experiments/create"
    before = echo.count(path)
    for number in range(10):
        status, answer = post(f"{gateway}/api/mlflow{path}", {"name": f"experiment-{number}"})
        assert status == 200 and answer["method"] == "POST"
    assert echo.count(path) - before == 10  # each POST reached MLflow exactly once
    port = echo.url.rsplit(":", 1)[1]
    assert echo.last().headers["host"] == [f"127.0.0.1:{port}"]


def test_health_lists_the_endpoints_of_the_answer_and_their_failures(gateway: str) -> None:
    with urllib.request.urlopen(f"{gateway}/health", timeout=10) as answer:
        report = json.load(answer)
    discovery = report["dependencies"]["mlflow"]["discovery"]
    assert discovery["target"] == NAME and discovery["fallback_active"] is False
    endpoints = {e["address"].split(":")[0]: e for e in discovery["endpoints"]}
    assert set(endpoints) == {"127.0.0.1", REFUSING}
    assert {e["source"] for e in endpoints.values()} == {"dns"}
    assert endpoints[REFUSING]["consecutive_failures"] >= 5
    assert endpoints["127.0.0.1"]["consecutive_failures"] == 0
