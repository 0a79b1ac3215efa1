"""One typed settings object, read from environment variables.

Every value is validated at start-up; a bad or missing value raises `ConfigError` whose
message names the variable, so the operator sees one line and knows what to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hokusai_platform.discovery.endpoint import is_ip_address
from hokusai_platform.discovery.policy import DEFAULT_POLICY, DiscoveryPolicy
from hokusai_platform.discovery.target import CloudMapTarget, HttpTarget, UpstreamTarget


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def parse_upstream_url(value: str, *, variable: str) -> HttpTarget:
    """An `http(s)://host[:port]` base URL with nothing after the authority."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{variable}: {value!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{variable}: {value!r} must start with http:// or https://")
    if not parts.hostname:
        raise ConfigError(f"{variable}: {value!r} has no host name")
    if parts.username or parts.password:
        raise ConfigError(f"{variable}: {value!r} must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{variable}: {value!r} must be a base URL without path or query")
    default_port = 443 if parts.scheme == "https" else 80
    return HttpTarget(parts.scheme, parts.hostname, port or default_port)


def parse_mlflow_url(value: str) -> UpstreamTarget:
    """MLFLOW_SERVER_URL: an http(s) base URL (DNS name or address) or a Cloud Map service."""
    if value.startswith("cloudmap://"):
        parts = urlsplit(value)
        service = parts.path.strip("/")
        if not parts.hostname or not service or "/" in service or parts.query or parts.port:
            raise ConfigError(
                f"MLFLOW_SERVER_URL: {value!r} must look like cloudmap://<namespace>/<service>"
            )
        return CloudMapTarget(parts.hostname, service)
    return parse_upstream_url(value, variable="MLFLOW_SERVER_URL")


def _number(
    env: Mapping[str, str], variable: str, default: float, *, minimum: float, kind: type = float
) -> float:
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        value: float = kind(raw)
    except ValueError:
        noun = "whole number" if kind is int else "number"
        raise ConfigError(f"{variable}: {raw!r} is not a {noun}") from None
    if value < minimum:
        raise ConfigError(f"{variable}: {raw!r} must be at least {minimum}")
    return value


def _port(env: Mapping[str, str], variable: str, default: int) -> int:
    port = int(_number(env, variable, default, minimum=1 if default else 0, kind=int))
    if port > 65535:
        raise ConfigError(f"{variable}: {port} is not a TCP port (1-65535)")
    return port


def database_url(env: Mapping[str, str] | None = None) -> str:
    """`HOKUSAI_DATABASE_URL`, else SQLite at `$HOKUSAI_DATA_DIR/hokusai.db` (`.hokusai/`)."""
    env = os.environ if env is None else env
    explicit = env.get("HOKUSAI_DATABASE_URL", "").strip()
    if explicit:
        if "://" not in explicit:
            raise ConfigError(f"HOKUSAI_DATABASE_URL: {explicit!r} is not a database URL")
        return explicit
    data_dir = Path(env.get("HOKUSAI_DATA_DIR", "").strip() or ".hokusai")
    return f"sqlite:///{(data_dir / 'hokusai.db').resolve()}"


def audit_sink(env: Mapping[str, str] | None = None) -> str:
    """`HOKUSAI_AUDIT_LOG`: "stderr" (the default) or the path of a file to append to."""
    env = os.environ if env is None else env
    return env.get("HOKUSAI_AUDIT_LOG", "").strip() or "stderr"


def redis_url(env: Mapping[str, str]) -> str | None:
    """`REDIS_URL`, else `REDIS_HOST` (a host, or host:port as Terraform gives it) and
    `REDIS_PORT`; None when neither is set."""
    explicit = env.get("REDIS_URL", "").strip()
    if explicit:
        if urlsplit(explicit).scheme not in ("redis", "rediss"):
            raise ConfigError(f"REDIS_URL: {explicit!r} must start with redis://, rediss://")
        return explicit
    host = env.get("REDIS_HOST", "").strip()
    if not host:
        return None
    if host.count(":") == 1:
        host, _, port_text = host.partition(":")
        port = _port({"REDIS_HOST": port_text}, "REDIS_HOST", 6379)
    else:
        port = _port(env, "REDIS_PORT", 6379)
    return f"redis://{host}:{port}/0"


def _bytes(env: Mapping[str, str], variable: str, default: int) -> int:
    return int(_number(env, variable, default, minimum=1024, kind=int))


def _key_cache_seconds(env: Mapping[str, str], default: float) -> float:
    seconds = _number(env, "HOKUSAI_KEY_CACHE_SECONDS", default, minimum=0)
    if seconds > 1:
        raise ConfigError("HOKUSAI_KEY_CACHE_SECONDS: at most 1, or revocation would take longer")
    return seconds


def _session_seconds(env: Mapping[str, str], idle: int, lifetime: int) -> tuple[int, int]:
    """How long a browser session may stay idle, and how long it may last at most."""
    idle = int(_number(env, "HOKUSAI_SESSION_IDLE_SECONDS", idle, minimum=1, kind=int))
    lifetime = int(_number(env, "HOKUSAI_SESSION_MAX_SECONDS", lifetime, minimum=1, kind=int))
    if idle > lifetime:
        raise ConfigError(
            f"HOKUSAI_SESSION_IDLE_SECONDS: {idle} is longer than HOKUSAI_SESSION_MAX_SECONDS "
            f"({lifetime}), the most a session lasts"
        )
    return idle, lifetime


def _choice(env: Mapping[str, str], variable: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(variable, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{variable}: {value!r} must be one of {', '.join(choices)}")
    return value


def _fallback_urls(env: Mapping[str, str]) -> tuple[HttpTarget, ...]:
    """`MLFLOW_FALLBACK_URLS`: the "direct IP" workaround, as configuration."""
    variable = "MLFLOW_FALLBACK_URLS"
    urls = []
    for item in filter(None, (item.strip() for item in env.get(variable, "").split(","))):
        url = parse_upstream_url(item, variable=variable)
        if not is_ip_address(url.host):
            raise ConfigError(f"{variable}: {item!r} must name an IP address, not a DNS name")
        urls.append(url)
    return tuple(urls)


def _dns_servers(env: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """`HOKUSAI_DNS_SERVERS`: `ip[:port]` or `[ipv6]:port`, comma-separated; port 53 if omitted."""
    variable = "HOKUSAI_DNS_SERVERS"
    servers = []
    for item in filter(None, (item.strip() for item in env.get(variable, "").split(","))):
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port_text = rest.removeprefix(":")
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
        else:
            host, port_text = item, ""
        if not is_ip_address(host):
            raise ConfigError(f"{variable}: {item!r} must be an IP address with an optional :port")
        servers.append((host, _port({variable: port_text}, variable, 53)))
    return tuple(servers)


def _discovery_policy(env: Mapping[str, str]) -> DiscoveryPolicy:
    default = DEFAULT_POLICY

    def seconds(variable: str, value: float, minimum: float = 0.1) -> float:
        return _number(env, variable, value, minimum=minimum)

    def count(variable: str, value: int) -> int:
        return int(_number(env, variable, value, minimum=1, kind=int))

    return DiscoveryPolicy(
        stale_seconds=seconds("HOKUSAI_DISCOVERY_STALE_SECONDS", default.stale_seconds, 0),
        negative_ttl=seconds("HOKUSAI_DISCOVERY_NEGATIVE_TTL", default.negative_ttl),
        cloudmap_ttl=seconds("HOKUSAI_DISCOVERY_CLOUDMAP_TTL", default.cloudmap_ttl),
        resolve_timeout=seconds("HOKUSAI_DISCOVERY_TIMEOUT", default.resolve_timeout),
        eject_after_failures=count("HOKUSAI_EJECT_AFTER_FAILURES", default.eject_after_failures),
        eject_seconds=seconds("HOKUSAI_EJECT_SECONDS", default.eject_seconds),
        eject_max_seconds=seconds("HOKUSAI_EJECT_MAX_SECONDS", default.eject_max_seconds),
        probe_interval=seconds("HOKUSAI_PROBE_INTERVAL", default.probe_interval),
        probe_timeout=seconds("HOKUSAI_PROBE_TIMEOUT", default.probe_timeout),
        failback_probes=count("HOKUSAI_FAILBACK_PROBES", default.failback_probes),
    )


@dataclass(frozen=True)
class Settings:
    mlflow: UpstreamTarget  # what discovery resolves
    host: str = "127.0.0.1"
    port: int = 8001
    workers: int = 1
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    health_timeout: float = 2.0
    health_cache_seconds: float = 1.0
    access_log: bool = True
    fallback_urls: tuple[HttpTarget, ...] = ()  # IP addresses
    dns_servers: tuple[tuple[str, int], ...] = ()
    discovery: DiscoveryPolicy = DEFAULT_POLICY
    database_url: str = "sqlite:///.hokusai/hokusai.db"
    redis_url: str | None = None
    redis_timeout: float = 0.25
    auth_required: bool = True
    key_cache_seconds: float = 0.5
    session_idle_seconds: int = 3600
    session_max_seconds: int = 12 * 3600
    audit_log: str = "stderr"
    metrics_port: int | None = None
    max_header_bytes: int = 8190
    max_json_body_bytes: int = 16 * 1024 * 1024
    max_artifact_bytes: int = 10 * 1024**3
    client_timeout: float = 75.0
    allowed_hosts: tuple[str, ...] = ()
    # On SIGTERM: /health/ready answers 503 but everything is served for `drain_seconds`
    # (10: the Cloud Map DNS TTL, so a client holding a cached answer still finds the task;
    # an active health check notices far sooner), then requests in progress get up to
    # `drain_timeout` to finish. Both fit within ECS's default stopTimeout of 30 s.
    drain_seconds: float = 10.0
    drain_timeout: float = 15.0

    @property
    def mlflow_url(self) -> str:
        """`MLFLOW_SERVER_URL` normalised: http(s)://host:port, or cloudmap://<namespace>/<service>."""
        return str(self.mlflow)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw_url = env.get("MLFLOW_SERVER_URL", "").strip()
        if not raw_url:
            raise ConfigError(
                "MLFLOW_SERVER_URL: not set (e.g. http://mlflow.hokusai-development.local:5000)"
            )
        session_idle_seconds, session_max_seconds = _session_seconds(
            env, cls.session_idle_seconds, cls.session_max_seconds
        )
        access_log = env.get("HOKUSAI_ACCESS_LOG", "1").strip().lower()
        if access_log not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"HOKUSAI_ACCESS_LOG: {access_log!r} is not a boolean")
        return cls(
            mlflow=parse_mlflow_url(raw_url),
            host=env.get("HOKUSAI_HOST", "").strip() or cls.host,
            port=_port(env, "HOKUSAI_PORT", cls.port),
            workers=int(_number(env, "HOKUSAI_WORKERS", os.cpu_count() or 1, minimum=1, kind=int)),
            connect_timeout=_number(
                env, "HOKUSAI_UPSTREAM_CONNECT_TIMEOUT", cls.connect_timeout, minimum=0.1
            ),
            read_timeout=_number(
                env, "HOKUSAI_UPSTREAM_READ_TIMEOUT", cls.read_timeout, minimum=0.1
            ),
            health_timeout=_number(env, "HOKUSAI_HEALTH_TIMEOUT", cls.health_timeout, minimum=0.1),
            health_cache_seconds=_number(
                env, "HOKUSAI_HEALTH_CACHE_SECONDS", cls.health_cache_seconds, minimum=0
            ),
            access_log=access_log in ("1", "true", "yes", "on"),
            fallback_urls=_fallback_urls(env),
            dns_servers=_dns_servers(env),
            discovery=_discovery_policy(env),
            database_url=database_url(env),
            redis_url=redis_url(env),
            redis_timeout=_number(env, "HOKUSAI_REDIS_TIMEOUT", cls.redis_timeout, minimum=0.01),
            auth_required=_choice(env, "HOKUSAI_AUTH", "required", ("required", "off"))
            == "required",
            key_cache_seconds=_key_cache_seconds(env, cls.key_cache_seconds),
            session_idle_seconds=session_idle_seconds,
            session_max_seconds=session_max_seconds,
            audit_log=audit_sink(env),
            metrics_port=_port(env, "HOKUSAI_METRICS_PORT", 0) or None,
            max_header_bytes=_bytes(env, "HOKUSAI_MAX_HEADER_BYTES", cls.max_header_bytes),
            max_json_body_bytes=_bytes(env, "HOKUSAI_MAX_JSON_BODY_BYTES", cls.max_json_body_bytes),
            max_artifact_bytes=_bytes(env, "HOKUSAI_MAX_ARTIFACT_BYTES", cls.max_artifact_bytes),
            client_timeout=_number(env, "HOKUSAI_CLIENT_TIMEOUT", cls.client_timeout, minimum=1),
            drain_seconds=_number(env, "HOKUSAI_DRAIN_SECONDS", cls.drain_seconds, minimum=0),
            drain_timeout=_number(env, "HOKUSAI_DRAIN_TIMEOUT", cls.drain_timeout, minimum=0),
            allowed_hosts=tuple(
                filter(
                    None,
                    (h.strip().lower() for h in env.get("HOKUSAI_ALLOWED_HOSTS", "").split(",")),
                )
            ),
        )
