"""What to check and where: an AWS environment as its Terraform declares it, or the local stack."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from hokusai_platform.doctor.context import DnsServer
from hokusai_platform.infra import expectations as declared
from hokusai_platform.infra import layout
from hokusai_platform.infra.expectations import Expectations, ServiceExpectation


@dataclass(frozen=True)
class Target:
    """The expectations and the addresses to reach them at."""

    expectations: Expectations
    url: str | None
    dns_servers: tuple[DnsServer, ...]
    terraform: layout.Environment | None


def parse_dns_server(value: str) -> DnsServer:
    host, _, port = value.strip().rpartition(":")
    if not host:
        return DnsServer(value.strip())
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--dns-server")
    return DnsServer(host.strip("[]"), int(port))


def local_stack_expectations(namespace: str, ports: Mapping[str, int]) -> Expectations:
    """What `hokusai up` runs: the same discovery names, no AWS behind them."""
    return Expectations(
        environment="local",
        namespace=namespace,
        services=(
            ServiceExpectation("api", "api", ports["gateway"]),
            ServiceExpectation("mlflow", "mlflow", ports["mlflow"]),
        ),
    )


def _stack_state(data_dir: Path) -> dict[str, Any] | None:
    from hokusai_platform.stack.config import StackConfig
    from hokusai_platform.stack.state import is_running, read_state

    config = StackConfig(data_dir)
    return read_state(config.state_file) if is_running(config.lock_file) else None


def local_target(data_dir: Path, url: str | None, servers: tuple[DnsServer, ...]) -> Target:
    """The stack `hokusai up` runs, from its `stack.json`; or the addresses given instead."""
    from hokusai_platform.stack.config import NAMESPACE, Ports

    state = _stack_state(data_dir)
    if state is None and not url:
        raise click.ClickException(
            f"no stack is running from {data_dir}: start one with `hokusai up`, "
            "or give --url (and --dns-server)"
        )
    ports = state["ports"] if state else dataclasses.asdict(Ports())
    if state is not None and not servers:
        servers = (DnsServer("127.0.0.1", int(ports["dns"])),)
    expectations = local_stack_expectations(
        str(state["namespace"]) if state else NAMESPACE, {k: int(v) for k, v in ports.items()}
    )
    return Target(expectations, url or f"http://127.0.0.1:{ports['gateway']}", servers, None)


def environment_target(
    terraform_root: Path | None, name: str, url: str | None, servers: tuple[DnsServer, ...]
) -> Target:
    """An AWS environment, as the Terraform root and its variables declare it."""
    try:
        environment = layout.environment(layout.find_root(terraform_root), name)
        expectations = declared.load(environment)
    except (layout.LayoutError, declared.ExpectationError) as exc:
        raise click.ClickException(str(exc)) from None
    if url is None and expectations.registry_host:
        url = f"https://{expectations.registry_host}"
    return Target(expectations, url, servers, environment)
