"""The `hokusai` command line: a thin layer over the packages that do the work."""

from __future__ import annotations

import importlib
import sys

import click

from hokusai_platform import __version__
from hokusai_platform.settings import ConfigError

# Each command's module is imported only when that command runs: a command pays for its own
# dependencies (SQLAlchemy, boto3, dnspython...) and no other's, and `serve` can prepare the
# shared metrics directory before any metric exists.
LAZY_COMMANDS = {
    "up": "hokusai_platform.stack.commands:up",
    "status": "hokusai_platform.stack.commands:status",
    "down": "hokusai_platform.stack.commands:down",
    "login-link": "hokusai_platform.stack.commands:login_link",
    "keys": "hokusai_platform.keys.cli:keys",
    "grants": "hokusai_platform.keys.grants_cli:grants",
    "teams": "hokusai_platform.keys.grants_cli:teams",
    "discovery": "hokusai_platform.discovery.cli:discovery",
    "doctor": "hokusai_platform.doctor.cli:doctor",
    "infra": "hokusai_platform.infra.cli:infra",
    "endpoint": "hokusai_platform.infra.cli:endpoint",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = LAZY_COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hokusai")
def cli() -> None:
    """Hokusai registry platform: the MLflow gateway and the tools that keep it reachable."""


@cli.command()
@click.option("--host", help="Address to listen on [env HOKUSAI_HOST; default 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port to listen on [env HOKUSAI_PORT; default 8001].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes [env HOKUSAI_WORKERS; default: CPU count].",
)
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def serve(host: str | None, port: int | None, workers: int | None, log_level: str) -> None:
    """Run the registry API: health endpoints, the MLflow proxy at /api/mlflow/*, and the
    key admin API at /api/admin/v1/keys (see `hokusai keys --help`).

    \b
    Configuration comes from the environment:
      MLFLOW_SERVER_URL                 MLflow base URL (required), e.g.
                                        http://mlflow.hokusai-development.local:5000
                                        or a Cloud Map service, found through its API:
                                        cloudmap://hokusai-production.local/mlflow
      HOKUSAI_HOST, HOKUSAI_PORT        listen address (127.0.0.1:8001)
      HOKUSAI_WORKERS                   worker processes (CPU count)
      HOKUSAI_UPSTREAM_CONNECT_TIMEOUT  seconds to connect to MLflow (5)
      HOKUSAI_UPSTREAM_READ_TIMEOUT     seconds between bytes from MLflow (300)
      HOKUSAI_HEALTH_TIMEOUT            seconds a health probe may take (2)
      HOKUSAI_HEALTH_CACHE_SECONDS      how long a probe result is reused (1)
      HOKUSAI_ACCESS_LOG                one JSON line per request (1)
      HOKUSAI_DRAIN_SECONDS             on SIGTERM, /health/ready answers 503 but all
                                        else is served this long (10), then
      HOKUSAI_DRAIN_TIMEOUT             requests in progress get this long to end (15)

    \b
    Service discovery (MLFLOW_SERVER_URL may name a DNS name with several A records):
      MLFLOW_FALLBACK_URLS              direct IP URLs used, loudly, only while discovery
                                        has no usable endpoint, e.g. http://10.0.1.88:5000
      HOKUSAI_DNS_SERVERS               ip[:port],... instead of the system resolver
      HOKUSAI_DISCOVERY_STALE_SECONDS   last good answer kept after failures (60)
      HOKUSAI_DISCOVERY_NEGATIVE_TTL    retry after a failed resolution (2)
      HOKUSAI_DISCOVERY_TIMEOUT         seconds one resolution may take (2)
      HOKUSAI_EJECT_AFTER_FAILURES      consecutive failures that eject an endpoint (3)
      HOKUSAI_EJECT_SECONDS             first ejection, doubling up to
      HOKUSAI_EJECT_MAX_SECONDS         this maximum (2, 60)
      HOKUSAI_PROBE_INTERVAL            seconds between /health probes of ejected (1)
      HOKUSAI_PROBE_TIMEOUT             seconds a probe may take (1)
      HOKUSAI_FAILBACK_PROBES           passed probes in a row before failback (3)

    \b
    Keys, rate limits and limits (see `hokusai keys --help`):
      HOKUSAI_AUTH                      required (default) or off
      HOKUSAI_DATABASE_URL              keys database; sqlite:///… or postgresql://…
                                        (SQLite in $HOKUSAI_DATA_DIR, .hokusai/)
      REDIS_URL                         per-key rate limits; or REDIS_HOST[:port]
                                        and REDIS_PORT (without: not enforced)
      HOKUSAI_REDIS_TIMEOUT             seconds before a rate check fails open (0.25)
      HOKUSAI_KEY_CACHE_SECONDS         key lookups reused, at most 1 s (0.5)
      HOKUSAI_SESSION_IDLE_SECONDS      a browser session ends when idle this long (3600)
      HOKUSAI_SESSION_MAX_SECONDS       and this long after the login at most (43200)
      HOKUSAI_AUDIT_LOG                 stderr (default) or a file: one line a keyed request
      HOKUSAI_ALLOWED_HOSTS             Host names served, comma-separated (any)
      HOKUSAI_MAX_HEADER_BYTES          one header line (8190)
      HOKUSAI_MAX_JSON_BODY_BYTES       body of an API call (16 MiB)
      HOKUSAI_MAX_ARTIFACT_BYTES        one artifact upload (10 GiB)
      HOKUSAI_CLIENT_TIMEOUT            seconds to send a request, or idle (75)
      HOKUSAI_METRICS_PORT              serve /metrics only on this port

    \b
    Then point the MLflow client at the gateway:
      export MLFLOW_TRACKING_URI=http://127.0.0.1:8001/api/mlflow
      export MLFLOW_TRACKING_TOKEN=hk_live_…
    """
    import dataclasses

    from hokusai_platform import logs, metrics
    from hokusai_platform.settings import Settings

    settings = Settings.from_env()
    if host:
        settings = dataclasses.replace(settings, host=host)
    if port is not None:
        settings = dataclasses.replace(settings, port=port)
    if workers is not None:
        settings = dataclasses.replace(settings, workers=workers)
    logs.configure(log_level.upper())
    metrics_dir = metrics.prepare_multiprocess_dir()
    # Imported only now: metrics must not be created before their shared directory exists.
    from hokusai_platform.gateway.server import PortInUse
    from hokusai_platform.gateway.server import serve as run_server

    try:
        run_server(settings)
    except PortInUse as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        metrics.remove_multiprocess_dir(metrics_dir)


def main() -> None:
    try:
        cli(prog_name="hokusai")
    except ConfigError as exc:
        click.echo(f"hokusai: configuration error: {exc}", err=True)
        sys.exit(2)
