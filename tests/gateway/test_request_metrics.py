"""Upstream request metrics: every proxied request is counted and timed, across workers."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families
from support.echo_upstream import EchoUpstream
from support.processes import Server, start_gateway

from hokusai_platform.discovery.request_metrics import observe_all


@pytest.fixture
def gateway(echo: EchoUpstream, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    server: Server
    server, url = start_gateway(
        tmp_path / "gateway.log",
        {"MLFLOW_SERVER_URL": echo.url, "HOKUSAI_WORKERS": str(request.param)},
    )
    yield url
    server.stop()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: bytes = answer.read()
        return body


def _upstream_samples(gateway: str) -> dict[str, float]:
    """hokusai_upstream_* samples for status 200, by sample name."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(_get(f"{gateway}/metrics").decode()):
        for sample in family.samples:
            if sample.name.startswith("hokusai_upstream_") and sample.labels.get("status") in (
                "200",
                None,
            ):
                if sample.name.endswith("_bucket"):
                    continue
                samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    return samples


@pytest.mark.parametrize("gateway", [1], indirect=True)
def test_a_scrape_includes_every_request_its_worker_proxied(gateway: str) -> None:
    for _ in range(5):
        _get(f"{gateway}/api/mlflow/counted")
    samples = _upstream_samples(gateway)
    assert samples["hokusai_upstream_requests_total"] == 5
    assert samples["hokusai_upstream_request_duration_seconds_count"] == 5
    assert samples["hokusai_upstream_request_duration_seconds_sum"] > 0


@pytest.mark.parametrize("gateway", [2], indirect=True)
def test_every_workers_requests_reach_a_scrape_within_about_a_second(gateway: str) -> None:
    for _ in range(40):  # a new connection each: both workers take some
        _get(f"{gateway}/api/mlflow/counted")
    deadline = time.monotonic() + 5
    seen: list[float] = []
    while time.monotonic() < deadline:
        seen.append(_upstream_samples(gateway).get("hokusai_upstream_requests_total", 0.0))
        if seen[-1] == 40:
            break
        time.sleep(0.2)
    assert seen[-1] == 40, f"counts seen: {seen}"


def test_a_batch_of_latencies_is_exported_as_observing_each_one_would_be() -> None:
    registry = CollectorRegistry()
    batched = Histogram("batched", "", registry=registry)
    one_by_one = Histogram("one_by_one", "", registry=registry)
    # On a bucket's bound, between bounds, past the last finite one, and zero.
    latencies = [0.005, 0.0051, 0.01, 0.3, 0.3, 7.5, 10.0, 11.0, 0.0]
    observe_all(batched, latencies)
    for seconds in latencies:
        one_by_one.observe(seconds)
    exported = {
        family.name: [
            (sample.name.removeprefix(family.name), sample.labels, sample.value)
            for sample in family.samples
            if not sample.name.endswith("_created")
        ]
        for family in registry.collect()
    }
    assert exported["batched"] == exported["one_by_one"]
    assert ("_bucket", {"le": "0.005"}, 2.0) in exported["batched"]
