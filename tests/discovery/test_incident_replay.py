"""Acceptance: the outage replayed end to end (see incident.py). The phases run in order on one
set of servers, as the incident did: (a) an instance dies, (b) the name vanishes, (c) it comes
back, (d) the discovery DNS server itself goes away."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.incident import FAILBACK_PROBES, NAME, PROBE_INTERVAL, TTL, Incident

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Incident]:
    replay = Incident(tmp_path_factory.mktemp("incident"))
    try:
        replay.start()
        yield replay
    finally:
        replay.close()


@pytest.fixture(scope="module")
def measured(incident: Incident) -> dict[str, dict[str, Any]]:
    return {
        "a": incident.kill_one_instance(),
        "b": incident.deregister_all(),
        "c": incident.reregister_all(),
        "d": incident.stop_dns(),
    }


def test_a_dead_instance_is_ejected_within_a_second_and_no_request_fails(
    measured: dict[str, dict[str, Any]],
) -> None:
    a = measured["a"]
    assert all(seconds <= 1 for seconds in a["ejected_after"].values()), a
    assert a["failed"] == {"fallback": 0, "plain": 0}, a["failures"]
    assert min(a["requests"].values()) > 30


def test_b_nxdomain_is_served_by_the_fallback_within_a_second_and_reported(
    measured: dict[str, dict[str, Any]],
) -> None:
    b = measured["b"]
    assert b["failed_with_fallback"] == 0
    assert b["fallback_after_first_failure"] <= 1
    health = b["fallback_health"]
    assert health["status"] == "degraded"
    assert "fallback active" in health["reason"] and "NXDOMAIN" in health["reason"]
    assert health["since"] == health["dependencies"]["mlflow"]["discovery"]["since"]
    in_use = [e for e in health["dependencies"]["mlflow"]["discovery"]["endpoints"] if e["in_use"]]
    assert [e["source"] for e in in_use] == ["fallback"]


def test_b_without_a_fallback_the_error_is_json_naming_the_name_and_the_cause(
    measured: dict[str, dict[str, Any]],
) -> None:
    b = measured["b"]
    status, body = b["plain_error"]
    assert status == 502 and body["error_code"] == "BAD_GATEWAY"
    assert NAME in body["message"] and "NXDOMAIN" in body["message"]
    assert b["plain_served_stale_for"] >= TTL  # stale answers first, for a bounded time


def test_c_traffic_fails_back_within_one_ttl_plus_the_probe_hysteresis(
    measured: dict[str, dict[str, Any]],
) -> None:
    c = measured["c"]
    assert c["failback_after"] <= TTL + FAILBACK_PROBES * PROBE_INTERVAL + 0.5
    assert c["failed_with_fallback"] == 0
    assert c["fallback_health"]["dependencies"]["mlflow"]["discovery"]["fallback_active"] is False


def test_d_with_the_dns_server_gone_stale_endpoints_keep_serving_and_health_says_so(
    measured: dict[str, dict[str, Any]],
) -> None:
    d = measured["d"]
    assert d["failed_while_stale"] == 0, d["failures"]
    assert d["requests_while_stale"] > 50
    health = d["plain_health"]
    assert health["status"] == "degraded" and "serving stale endpoints" in health["reason"]
    sources = {e["source"] for e in health["dependencies"]["mlflow"]["discovery"]["endpoints"]}
    assert sources == {"stale"}
    assert d["failed_with_fallback"] == 0  # the other gateway moved to its fallback
