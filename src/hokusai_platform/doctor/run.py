"""From command-line options to results on the screen: build the context, run, render, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from hokusai_platform.checks import CheckResult, render_json, render_table
from hokusai_platform.doctor import watch as watching
from hokusai_platform.doctor.catalog import Diagnosis, diagnose
from hokusai_platform.doctor.context import DnsServer
from hokusai_platform.doctor.expectations import Expectations
from hokusai_platform.doctor.session import open_context


@dataclass(frozen=True)
class Options:
    environment: str | None
    local: bool
    url: str | None
    dns_servers: Sequence[str]
    layers: Sequence[str]
    region: str | None
    terraform_root: Path | None
    data_dir: Path
    as_json: bool
    watch: float | None


@dataclass(frozen=True)
class Target:
    """What to check and where: the expectations and the addresses to reach them at."""

    expectations: Expectations
    url: str | None
    dns_servers: tuple[DnsServer, ...]
    terraform_dir: Path | None


def parse_dns_server(value: str) -> DnsServer:
    host, _, port = value.strip().rpartition(":")
    if not host:
        return DnsServer(value.strip())
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--dns-server")
    return DnsServer(host.strip("[]"), int(port))


def _stack_state(data_dir: Path) -> dict[str, Any] | None:
    from hokusai_platform.stack.config import StackConfig
    from hokusai_platform.stack.state import is_running, read_state

    config = StackConfig(data_dir)
    return read_state(config.state_file) if is_running(config.lock_file) else None


def local_target(options: Options, servers: tuple[DnsServer, ...]) -> Target:
    """The stack `hokusai up` runs, from its `stack.json`; or the addresses given instead."""
    from hokusai_platform.stack.config import NAMESPACE, Ports

    state = _stack_state(options.data_dir)
    if state is None and not options.url:
        raise click.ClickException(
            f"no stack is running from {options.data_dir}: start one with `hokusai up`, "
            "or give --url (and --dns-server)"
        )
    ports = state["ports"] if state else dataclasses.asdict(Ports())
    if state is not None and not servers:
        servers = (DnsServer("127.0.0.1", int(ports["dns"])),)
    expectations = Expectations.for_local_stack(
        str(state["namespace"]) if state else NAMESPACE, {k: int(v) for k, v in ports.items()}
    )
    url = options.url or f"http://127.0.0.1:{ports['gateway']}"
    return Target(expectations, url, servers, None)


def environment_target(options: Options, servers: tuple[DnsServer, ...]) -> Target:
    """An AWS environment, as its Terraform root declares it."""
    from hokusai_platform.doctor import terraform_expectations as declared

    assert options.environment is not None
    try:
        root = options.terraform_root or declared.find_root()
        directory = declared.environment_dir(root, options.environment)
        expectations = declared.load(directory)
    except declared.ExpectationError as exc:
        raise click.ClickException(str(exc)) from None
    url = options.url
    if url is None and expectations.registry_host:
        url = f"https://{expectations.registry_host}"
    return Target(expectations, url, servers, directory)


def layer(result: CheckResult) -> str:
    return result.id.split(".", 1)[0]


def exit_code(results: Sequence[CheckResult]) -> int:
    statuses = {result.status for result in results}
    return 2 if "fail" in statuses else 1 if "warn" in statuses else 0


def render(diagnosis: Diagnosis, elapsed: float, as_json: bool) -> str:
    if as_json:
        return render_json(diagnosis.results, elapsed, diagnosis.layer_seconds)
    return render_table(diagnosis.results, layer, elapsed)


def run_once(options: Options, chosen: Target) -> tuple[Diagnosis, float]:
    """One run of the selected checks, and how long it took."""
    started = time.monotonic()
    diagnosis = asyncio.run(_run_once(options, chosen))
    return diagnosis, time.monotonic() - started


async def _run_once(options: Options, chosen: Target) -> Diagnosis:
    async with open_context(
        chosen.expectations,
        url=chosen.url,
        dns_servers=chosen.dns_servers,
        region=options.region,
        with_aws=not options.local,
        terraform_dir=chosen.terraform_dir,
    ) as context:
        return await diagnose(context, options.layers)


def main(options: Options) -> int:
    servers = tuple(parse_dns_server(value) for value in options.dns_servers)
    if options.local:
        chosen = local_target(options, servers)
    else:
        chosen = environment_target(options, servers)
    if options.watch is None:
        diagnosis, elapsed = run_once(options, chosen)
        click.echo(render(diagnosis, elapsed, options.as_json))
        return exit_code(diagnosis.results)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
        watch(options, chosen, options.watch)
    return 0


def watch(options: Options, chosen: Target, seconds: float) -> None:
    """The first run in full, then only what changed, one line (or JSON object) each."""
    diagnosis, elapsed = run_once(options, chosen)
    click.echo(render(diagnosis, elapsed, options.as_json))
    results = diagnosis.results
    while True:
        time.sleep(seconds)
        latest = run_once(options, chosen)[0].results
        for change in watching.changes(results, latest):
            if options.as_json:
                click.echo(json.dumps(change.to_json()))
            else:
                click.echo(f"[{time.strftime('%H:%M:%S')}] {change.describe()}")
        results = latest
