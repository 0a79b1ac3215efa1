"""`hokusai discovery …`: run the local discovery server and manage its instances."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import signal
from typing import Any

import click

from hokusai_platform.discovery.local.control import ControlError, call

DEFAULT_DNS_PORT = 5300
DEFAULT_CONTROL_PORT = 5380
CONTROL_URL_ENV = "HOKUSAI_DISCOVERY_CONTROL_URL"

log = logging.getLogger("hokusai.discovery.server")

control_url_option = click.option(
    "--control-url",
    envvar=CONTROL_URL_ENV,
    default=f"http://127.0.0.1:{DEFAULT_CONTROL_PORT}",
    show_default=True,
    help=f"The discovery server's control API [env {CONTROL_URL_ENV}].",
)


def _loopback(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        if ipaddress.ip_address(value).is_loopback:
            return value
    except ValueError:
        pass
    raise click.BadParameter(f"{value!r} is not a loopback address (the server is for local use)")


def _address(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{value!r} is not IP:PORT (e.g. 127.0.0.1:5000)")
    return host, int(port)


def _request(control_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    try:
        return call(control_url, method, path, body)
    except ControlError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def discovery() -> None:
    """Service discovery: a local DNS server with Cloud Map's answers, and its instances.

    \b
    Start the server, register MLflow, and resolve its name:
      hokusai discovery serve --namespace hokusai-development.local &
      hokusai discovery register mlflow 127.0.0.1:5000
      dig @127.0.0.1 -p 5300 mlflow.hokusai-development.local
    """


@discovery.command()
@click.option("--namespace", default="hokusai-development.local", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, callback=_loopback)
@click.option(
    "--dns-port", type=click.IntRange(0, 65535), default=DEFAULT_DNS_PORT, show_default=True
)
@click.option(
    "--control-port", type=click.IntRange(0, 65535), default=DEFAULT_CONTROL_PORT, show_default=True
)
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def serve(namespace: str, host: str, dns_port: int, control_port: int, log_level: str) -> None:
    """Answer DNS (A, SRV; UDP and TCP) for NAMESPACE as Cloud Map would, until interrupted.

    Instances are managed with `register`, `deregister`, `set-health` (or the control API).
    """
    from hokusai_platform import logs
    from hokusai_platform.discovery.local.dns_server import DiscoveryServer
    from hokusai_platform.discovery.local.registry import Registry

    logs.configure(log_level.upper())

    async def run() -> None:
        server = DiscoveryServer(
            Registry(namespace), dns_port=dns_port, control_port=control_port, host=host
        )
        try:
            await server.start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}: {exc.strerror}") from None
        log.info(
            "listening",
            extra={
                "namespace": namespace,
                "dns": f"{host}:{server.dns_port}",
                "control": f"http://{host}:{server.control_port}",
            },
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.close()

    asyncio.run(run())


@discovery.command()
@click.argument("service")
@click.argument("address", metavar="IP:PORT", callback=_address)
@click.option("--instance-id", help="Instance id [default: from the address, e.g. 127-0-0-1-5000].")
@click.option("--ttl", type=click.IntRange(0), help="Set the service's DNS TTL in seconds (10).")
@control_url_option
def register(
    service: str,
    address: tuple[str, int],
    instance_id: str | None,
    ttl: int | None,
    control_url: str,
) -> None:
    """Register an instance of SERVICE at IP:PORT (healthy until set otherwise)."""
    body: dict[str, Any] = {"address": address[0], "port": address[1]}
    if instance_id:
        body["instance_id"] = instance_id
    if ttl is not None:
        body["ttl"] = ttl
    instance = _request(control_url, "POST", f"/v1/services/{service}/instances", body)
    click.echo(f"registered {service}/{instance['instance_id']} at {address[0]}:{address[1]}")


@discovery.command()
@click.argument("service")
@click.argument("instance")
@control_url_option
def deregister(service: str, instance: str, control_url: str) -> None:
    """Deregister INSTANCE (its id, or IP:PORT) from SERVICE."""
    gone = _request(control_url, "DELETE", f"/v1/services/{service}/instances/{instance}")
    click.echo(f"deregistered {service}/{gone['instance_id']}")


@discovery.command("set-health")
@click.argument("service")
@click.argument("instance")
@click.argument("status", type=click.Choice(["HEALTHY", "UNHEALTHY"], case_sensitive=False))
@control_url_option
def set_health(service: str, instance: str, status: str, control_url: str) -> None:
    """Set INSTANCE's custom health status, as Cloud Map's UpdateInstanceCustomHealthStatus."""
    path = f"/v1/services/{service}/instances/{instance}/health"
    changed = _request(control_url, "PUT", path, {"status": status.upper()})
    click.echo(f"{service}/{changed['instance_id']} is {status.upper()}")


@discovery.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
@control_url_option
def list_instances(as_json: bool, control_url: str) -> None:
    """List services and their instances."""
    registry = _request(control_url, "GET", "/v1/services")
    if as_json:
        click.echo(json.dumps(registry, indent=2))
        return
    click.echo(f"{'NAME':<44} {'INSTANCE':<24} {'ADDRESS':<22} {'HEALTH':<9} TTL")
    for service in registry["services"]:
        name = f"{service['name']}.{registry['namespace']}"
        for instance in service["instances"]:
            address = f"{instance['address']}:{instance['port']}"
            health = "healthy" if instance["healthy"] else "unhealthy"
            instance_id = instance["instance_id"]
            click.echo(f"{name:<44} {instance_id:<24} {address:<22} {health:<9} {service['ttl']}")
