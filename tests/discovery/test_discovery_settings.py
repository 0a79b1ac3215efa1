"""Discovery settings: fallback URLs, DNS servers, the policy; each error names its variable."""

from __future__ import annotations

import pytest

from hokusai_platform.discovery.policy import DiscoveryPolicy
from hokusai_platform.discovery.target import CloudMapTarget, HttpTarget
from hokusai_platform.settings import ConfigError, Settings

BASE = {"MLFLOW_SERVER_URL": "http://mlflow.hokusai-development.local:5000"}


def settings(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env})


def test_defaults_use_the_system_resolver_and_no_fallback() -> None:
    defaults = settings()
    assert defaults.fallback_urls == () and defaults.dns_servers == ()
    assert defaults.discovery == DiscoveryPolicy()


def test_fallback_urls_and_dns_servers_are_lists() -> None:
    configured = settings(
        MLFLOW_FALLBACK_URLS=" http://10.0.1.88:5000, https://[fd00::5]",
        HOKUSAI_DNS_SERVERS="127.0.0.1:5300,[::1]:53,10.0.0.2",
    )
    assert configured.fallback_urls == (
        HttpTarget("http", "10.0.1.88", 5000),
        HttpTarget("https", "fd00::5", 443),
    )
    assert configured.dns_servers == (("127.0.0.1", 5300), ("::1", 53), ("10.0.0.2", 53))


def test_the_mlflow_url_is_parsed_once_into_what_discovery_resolves() -> None:
    assert settings().mlflow == HttpTarget("http", "mlflow.hokusai-development.local", 5000)
    cloud_map = settings(MLFLOW_SERVER_URL="cloudmap://hokusai-production.local/mlflow/")
    assert cloud_map.mlflow == CloudMapTarget("hokusai-production.local", "mlflow")
    assert cloud_map.mlflow_url == "cloudmap://hokusai-production.local/mlflow"


def test_policy_comes_from_the_environment() -> None:
    policy = settings(
        HOKUSAI_DISCOVERY_STALE_SECONDS="0",
        HOKUSAI_EJECT_AFTER_FAILURES="5",
        HOKUSAI_FAILBACK_PROBES="2",
        HOKUSAI_PROBE_INTERVAL="0.25",
    ).discovery
    assert (policy.stale_seconds, policy.eject_after_failures) == (0, 5)
    assert (policy.failback_probes, policy.probe_interval) == (2, 0.25)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "MLFLOW_FALLBACK_URLS",
            "http://mlflow.internal:5000",
            "MLFLOW_FALLBACK_URLS: 'http://mlflow.internal:5000' must name an IP address,"
            " not a DNS name",
        ),
        (
            "MLFLOW_FALLBACK_URLS",
            "10.0.1.88:5000",
            "MLFLOW_FALLBACK_URLS: '10.0.1.88:5000' must start with http:// or https://",
        ),
        (
            "HOKUSAI_DNS_SERVERS",
            "dns.internal:53",
            "HOKUSAI_DNS_SERVERS: 'dns.internal:53' must be an IP address with an optional :port",
        ),
        ("HOKUSAI_DNS_SERVERS", "127.0.0.1:0", "HOKUSAI_DNS_SERVERS: '0' must be at least 1"),
        ("HOKUSAI_FAILBACK_PROBES", "two", "HOKUSAI_FAILBACK_PROBES: 'two' is not a whole number"),
        (
            "HOKUSAI_DISCOVERY_STALE_SECONDS",
            "-1",
            "HOKUSAI_DISCOVERY_STALE_SECONDS: '-1' must be at least 0",
        ),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(**{variable: value})
    assert str(raised.value) == message
