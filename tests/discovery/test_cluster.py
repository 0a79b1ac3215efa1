"""`Cluster` against the discovery DNS server on loopback: caching, refresh, serve-stale,
fallback and failback, ejection. The test plays the gateway: it picks, sends, and reports."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import REGISTRY
from support.discovery import NAME, a_queries, discovery_dns, health_endpoint
from support.processes import free_port

from hokusai_platform.discovery.cluster import Cluster
from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.discovery.local.dns_server import DiscoveryServer
from hokusai_platform.discovery.outlier import Outcome
from hokusai_platform.discovery.policy import DiscoveryPolicy
from hokusai_platform.discovery.target import HttpTarget
from hokusai_platform.http.client import Client
from hokusai_platform.http.errors import ConnectError

TARGET = HttpTarget("http", NAME, 5000)
FAST = DiscoveryPolicy(
    stale_seconds=30,
    negative_ttl=0.3,
    resolve_timeout=0.5,
    eject_after_failures=3,
    eject_seconds=0.5,
    probe_interval=0.1,
    probe_timeout=0.5,
    failback_probes=3,
)


def cluster_for(server: DiscoveryServer, policy: DiscoveryPolicy = FAST) -> Cluster:
    return Cluster("mlflow", TARGET, dns_servers=[("127.0.0.1", server.dns_port)], policy=policy)


async def eventually(condition: Callable[[], bool], within: float) -> float:
    """Seconds until `condition()` held; fails the test after `within` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def hosts(cluster: Cluster, picks: int = 20) -> set[str]:
    return {endpoint.host for endpoint in (cluster.pick() for _ in range(picks)) if endpoint}


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_every_a_record_is_an_endpoint_and_picks_take_turns() -> None:
    async def scenario() -> None:
        async with discovery_dns() as dns, Client(connect_timeout=1, read_timeout=1) as client:
            for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
                dns.registry.register("mlflow", None, host, 5000)
            cluster = cluster_for(dns)
            await cluster.start(client)
            picks = [cluster.pick() for _ in range(6)]
            await cluster.close()
        assert all(p is not None and p.source == "dns" and p.port == 5000 for p in picks)
        assert [p.host for p in picks[:3]] == [p.host for p in picks[3:]]
        assert {p.host for p in picks} == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}
        assert picks[0].authority == f"{picks[0].host}:5000"

    run(scenario)


def test_answers_are_used_for_their_ttl_then_refreshed_in_the_background() -> None:
    async def scenario() -> None:
        async with discovery_dns() as dns, Client(connect_timeout=1, read_timeout=1) as client:
            dns.registry.register("mlflow", "one", "127.0.0.2", 5000, ttl=1)
            cluster = cluster_for(dns)
            await cluster.start(client)
            dns.registry.deregister("mlflow", "one")
            dns.registry.register("mlflow", "two", "127.0.0.3", 5000)
            assert hosts(cluster) == {"127.0.0.2"}  # cached: the TTL has not passed
            assert a_queries(dns) == 1
            waited = await eventually(lambda: hosts(cluster) == {"127.0.0.3"}, within=3)
            await cluster.close()
        assert 0.5 < waited <= 1.2  # refreshed at 90% of the TTL, before it expired

    run(scenario)


def test_no_more_than_one_query_per_ttl_under_load() -> None:
    async def scenario() -> None:
        async with discovery_dns() as dns, Client(connect_timeout=1, read_timeout=1) as client:
            dns.registry.register("mlflow", None, "127.0.0.2", 5000, ttl=1)
            cluster = cluster_for(dns)
            await cluster.start(client)
            picks, started = 0, time.monotonic()
            while time.monotonic() - started < 3.5:
                for _ in range(1000):
                    assert cluster.pick() is not None
                picks += 1000
                await asyncio.sleep(0)  # let the refresh task run, as a busy gateway would
            await cluster.close()
            queries = a_queries(dns)
        assert picks > 100_000
        assert 3 <= queries <= 1 + 3.5  # the first resolution, then one per TTL at most

    run(scenario)


def test_failed_refresh_serves_the_last_good_endpoints_as_stale_for_a_bounded_time() -> None:
    async def scenario() -> None:
        policy = DiscoveryPolicy(**{**FAST.__dict__, "stale_seconds": 1.5})
        async with discovery_dns() as dns, Client(connect_timeout=1, read_timeout=1) as client:
            dns.registry.register("mlflow", None, "127.0.0.2", 5000, ttl=1)
            cluster = cluster_for(dns, policy)
            await cluster.start(client)
            await dns.close()  # the DNS server goes away

            def stale() -> bool:
                endpoint = cluster.pick()
                return endpoint is not None and endpoint.source == "stale"

            await eventually(stale, within=2)
            snapshot = cluster.snapshot()
            assert snapshot["status"] == "degraded"
            assert "serving stale endpoints" in str(snapshot["reason"])
            assert snapshot["last_error"] is not None
            assert snapshot["endpoints"] == [
                {
                    "address": "127.0.0.2:5000",
                    "source": "stale",
                    "healthy": True,
                    "in_use": True,
                    "ejected_until": None,
                    "consecutive_failures": 0,
                }
            ]
            # The bound: stale endpoints are given up 1.5 s after the answer expired.
            await eventually(lambda: cluster.pick() is None, within=3)
            snapshot = cluster.snapshot()
            await cluster.close()
        assert snapshot["status"] == "unhealthy"
        assert "no endpoints" in str(snapshot["reason"])

    run(scenario)


def test_nxdomain_switches_to_the_fallback_loudly_and_fails_back_after_hysteresis(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="hokusai.discovery")
    policy = DiscoveryPolicy(**{**FAST.__dict__, "stale_seconds": 0})

    def fallback_gauge() -> float | None:
        return REGISTRY.get_sample_value(
            "hokusai_discovery_fallback_active", {"upstream": "mlflow"}
        )

    async def scenario() -> None:
        async with (
            discovery_dns() as dns,
            Client(connect_timeout=1, read_timeout=1) as client,
            health_endpoint("127.0.0.2") as port,
            health_endpoint("127.0.0.3") as fallback_port,
        ):
            dns.registry.register("mlflow", "one", "127.0.0.2", port, ttl=1)
            cluster = Cluster(
                "mlflow",
                HttpTarget("http", NAME, port),
                dns_servers=[("127.0.0.1", dns.dns_port)],
                fallback=[HttpTarget("http", "127.0.0.3", fallback_port)],
                policy=policy,
            )
            await cluster.start(client)
            assert hosts(cluster) == {"127.0.0.2"}
            assert not cluster.fallback_active and fallback_gauge() == 0

            dns.registry.deregister("mlflow", "one")  # the outage: the name is gone
            deregistered = time.monotonic()
            await eventually(lambda: hosts(cluster) == {"127.0.0.3"}, within=3)
            assert time.monotonic() - deregistered <= 1 + 0.5  # one TTL, then at once
            assert cluster.pick().source == "fallback"
            snapshot = cluster.snapshot()
            assert snapshot["status"] == "degraded" and snapshot["fallback_active"] is True
            assert "fallback active" in str(snapshot["reason"])
            assert "NXDOMAIN" in str(snapshot["reason"])
            assert time.time() - float(snapshot["since"]) < 2
            assert fallback_gauge() == 1

            dns.registry.register("mlflow", "one", "127.0.0.2", port, ttl=1)
            registered = time.monotonic()
            await eventually(lambda: not cluster.fallback_active, within=4)
            failback = time.monotonic() - registered
            assert hosts(cluster) == {"127.0.0.2"}
            snapshot = cluster.snapshot()
            await cluster.close()
        # One TTL to see the name again, then three passed probes 0.1 s apart: no sooner.
        assert 0.3 <= failback <= 1 + 3 * 0.1 + 0.6
        assert snapshot["status"] == "healthy" and snapshot["reason"] is None
        assert fallback_gauge() == 0
        announcements = [r for r in caplog.records if r.getMessage() == "fallback active"]
        assert len(announcements) == 1  # once per transition, not per request
        assert "NXDOMAIN" in announcements[0].reason

    run(scenario)


def test_a_refusing_endpoint_is_ejected_and_probed_back_once_it_answers() -> None:
    refusing_port = free_port()

    async def send(client: Client, cluster: Cluster) -> Endpoint:
        endpoint = cluster.pick()
        assert endpoint is not None
        try:
            await (await client.send(endpoint.address, "GET", "/health")).read()
            cluster.report(endpoint, Outcome.SUCCESS)
        except ConnectError:
            cluster.report(endpoint, Outcome.CONNECT_FAILURE)
        return endpoint

    async def scenario() -> None:
        async with (
            discovery_dns() as dns,
            Client(connect_timeout=1, read_timeout=1) as client,
            health_endpoint("127.0.0.2", refusing_port),
        ):
            dns.registry.register("mlflow", "good", "127.0.0.2", refusing_port)
            dns.registry.register("mlflow", "bad", "127.0.0.5", refusing_port)  # nothing there
            cluster = Cluster(
                "mlflow",
                HttpTarget("http", NAME, refusing_port),
                dns_servers=[("127.0.0.1", dns.dns_port)],
                policy=FAST,
            )
            removed: list[Endpoint] = []
            cluster.on_endpoint_removed(removed.append)
            await cluster.start(client)
            sent = [await send(client, cluster) for _ in range(6)]
            assert sum(endpoint.host == "127.0.0.5" for endpoint in sent) == 3
            after = [(await send(client, cluster)).host for _ in range(10)]
            assert set(after) == {"127.0.0.2"}
            endpoints = cluster.snapshot()["endpoints"]
            assert isinstance(endpoints, list)
            bad = next(e for e in endpoints if e["address"] == f"127.0.0.5:{refusing_port}")
            assert bad["healthy"] is False and bad["ejected_until"] > time.time()
            assert bad["consecutive_failures"] == 3
            assert cluster.snapshot()["status"] == "degraded"
            assert [e.host for e in removed] == ["127.0.0.5"]  # its pooled connections go

            async with health_endpoint("127.0.0.5", refusing_port):
                # Back in rotation after its back-off (0.5 s) and one passed probe.
                await eventually(lambda: "127.0.0.5" in hosts(cluster), within=2)
            await cluster.close()

    run(scenario)


def test_an_ejected_endpoint_stays_ejected_when_its_answer_goes_stale() -> None:
    policy = DiscoveryPolicy(**{**FAST.__dict__, "eject_seconds": 30})

    async def scenario() -> None:
        async with discovery_dns() as dns, Client(connect_timeout=1, read_timeout=1) as client:
            for host in ("127.0.0.2", "127.0.0.5"):
                dns.registry.register("mlflow", None, host, 5000, ttl=1)
            cluster = cluster_for(dns, policy)
            await cluster.start(client)
            failing = next(e for e in (cluster.pick(), cluster.pick()) if e.host == "127.0.0.5")
            for _ in range(3):
                cluster.report(failing, Outcome.CONNECT_FAILURE)
            assert hosts(cluster) == {"127.0.0.2"}
            await dns.close()  # the answer expires and the same servers are served as stale

            await eventually(lambda: cluster.pick().source == "stale", within=3)
            assert hosts(cluster) == {"127.0.0.2"}
            endpoints = cluster.snapshot()["endpoints"]
            await cluster.close()
        assert isinstance(endpoints, list)
        stale = next(e for e in endpoints if e["address"] == "127.0.0.5:5000")
        assert stale["source"] == "stale" and stale["healthy"] is False
        assert stale["consecutive_failures"] == 3

    run(scenario)


def test_an_endpoint_is_its_address_whatever_its_source() -> None:
    fresh = Endpoint("http", "10.0.1.88", 5000, "dns")
    stale = fresh.relabelled("stale")
    assert stale == fresh and hash(stale) == hash(fresh) and stale.address == fresh.address
    assert stale != Endpoint("https", "10.0.1.88", 5000, "dns")
    assert stale != Endpoint("http", "10.0.1.88", 5001, "dns")


def test_a_literal_address_is_a_static_endpoint_without_dns() -> None:
    async def scenario() -> None:
        async with Client(connect_timeout=1, read_timeout=1) as client:
            cluster = Cluster("mlflow", HttpTarget("http", "10.0.1.88", 5000))
            await cluster.start(client)
            endpoint = cluster.pick()
            await cluster.close()
        assert endpoint == Endpoint("http", "10.0.1.88", 5000, "static")
        assert cluster.snapshot()["status"] == "healthy"

    run(scenario)


def test_ipv6_endpoints_are_bracketed_in_the_authority() -> None:
    endpoint = Endpoint("http", "::1", 5000, "static")
    assert endpoint.authority == "[::1]:5000"
    assert endpoint.base_url == "http://[::1]:5000"
