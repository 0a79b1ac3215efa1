"""The DNS layer against the embedded discovery DNS server (Cloud Map semantics, on loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from support.aws import MotoEnvironment

from hokusai_platform.checks import CheckResult
from hokusai_platform.discovery.local import dns_server
from hokusai_platform.discovery.local.dns_server import DiscoveryServer
from hokusai_platform.discovery.local.registry import Registry
from hokusai_platform.doctor import dns
from hokusai_platform.doctor.catalog import diagnose
from hokusai_platform.doctor.context import DnsServer
from hokusai_platform.doctor.session import open_context
from hokusai_platform.infra.expectations import Expectations

Setup = Callable[[Registry], None]


def run_dns(
    expectations: Expectations,
    setup: Setup,
    *,
    region: str | None = None,
    use_server: bool = True,
    served_namespace: str | None = None,
) -> list[CheckResult]:
    """Start a discovery DNS server, let `setup` register instances, run the dns layer."""

    async def go() -> list[CheckResult]:
        registry = Registry(served_namespace or expectations.namespace)
        server = DiscoveryServer(registry, control_port=None)
        await server.start()
        try:
            setup(server.registry)
            servers = (DnsServer("127.0.0.1", server.dns_port),) if use_server else ()
            async with open_context(
                expectations, dns_servers=servers, region=region, with_aws=region is not None
            ) as context:
                return (await diagnose(context, {"dns"})).results
        finally:
            await server.close()

    return asyncio.run(go())


def both_registered(registry: Registry) -> None:
    registry.register("api", None, "10.0.1.10", 8001)
    registry.register("mlflow", None, "10.0.1.11", 5000)


def by_subject(results: list[CheckResult], check_id: str) -> dict[str, CheckResult]:
    return {r.subject: r for r in results if r.id == check_id}


def test_names_resolving_as_cloud_map_says_are_green(moto_environment: MotoEnvironment) -> None:
    results = run_dns(
        moto_environment.expectations, both_registered, region=moto_environment.region
    )

    assert [(r.id, r.subject, r.status) for r in results] == [
        ("dns.resolve", "api.hokusai-development.local", "ok"),
        ("dns.resolve", "mlflow.hokusai-development.local", "ok"),
        ("dns.matches-cloudmap", "api.hokusai-development.local", "ok"),
        ("dns.matches-cloudmap", "mlflow.hokusai-development.local", "ok"),
        ("dns.negative-ttl", "hokusai-development.local", "ok"),
    ]
    assert by_subject(results, "dns.resolve")["mlflow.hokusai-development.local"].evidence == (
        "10.0.1.11"
    )


def test_deregistered_mlflow_fails_resolution_and_the_cloud_map_comparison(
    moto_environment: MotoEnvironment,
) -> None:
    moto_environment.deregister_all("mlflow")

    def only_api(registry: Registry) -> None:
        registry.register("api", None, "10.0.1.10", 8001)

    results = run_dns(moto_environment.expectations, only_api, region=moto_environment.region)

    resolve = by_subject(results, "dns.resolve")["mlflow.hokusai-development.local"]
    assert resolve.status == "fail"
    assert "NXDOMAIN" in resolve.evidence
    assert "hokusai-mlflow-development" in resolve.hint
    assert by_subject(results, "dns.resolve")["api.hokusai-development.local"].status == "ok"
    # DNS and Cloud Map agree there is nothing: consistent, so that comparison holds.
    agree = by_subject(results, "dns.matches-cloudmap")["mlflow.hokusai-development.local"]
    assert agree.status == "ok"


def test_dns_answers_that_cloud_map_does_not_hold_fail(moto_environment: MotoEnvironment) -> None:
    def stale(registry: Registry) -> None:
        registry.register("api", None, "10.0.1.10", 8001)
        registry.register("mlflow", None, "10.0.1.88", 5000)  # the old hard-coded IP

    results = run_dns(moto_environment.expectations, stale, region=moto_environment.region)

    mismatch = by_subject(results, "dns.matches-cloudmap")["mlflow.hokusai-development.local"]
    assert mismatch.status == "fail"
    assert "10.0.1.88" in mismatch.evidence
    assert "10.0.1.11" in mismatch.evidence


def test_a_long_negative_ttl_warns(
    expectations: Expectations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns_server, "NEGATIVE_TTL", 3600)  # Route 53's SOA default is 900+

    result = by_subject(run_dns(expectations, both_registered), "dns.negative-ttl")

    assert result["hokusai-development.local"].status == "warn"
    assert "cached 3600 s" in result["hokusai-development.local"].evidence


def test_without_aws_the_cloud_map_comparison_is_skipped(expectations: Expectations) -> None:
    results = run_dns(expectations, both_registered)

    skipped = by_subject(results, "dns.matches-cloudmap")
    assert [r.status for r in skipped.values()] == ["skipped"]


def test_a_named_server_that_does_not_serve_the_namespace_fails(
    expectations: Expectations,
) -> None:
    results = run_dns(expectations, both_registered, served_namespace="elsewhere.local")

    assert {r.status for r in results if r.id != "dns.matches-cloudmap"} == {"fail"}
    assert "does not answer for the namespace" in results[0].evidence


def test_outside_the_vpc_the_system_resolver_skips_the_layer(
    expectations: Expectations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A resolver that is not there (nothing listens on 127.0.0.1:53): traffic stays on loopback.
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    monkeypatch.setattr(dns, "RESOLV_CONF", str(resolv_conf))

    results = run_dns(expectations, both_registered, use_server=False)

    assert {r.status for r in results} == {"skipped"}
    assert "VPC DNS is not reachable from here" in results[0].evidence
