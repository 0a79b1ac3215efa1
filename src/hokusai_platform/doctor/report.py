"""From the command's options to the report on the screen: run the checks, render, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from hokusai_platform.checks import CheckResult, render_json, render_table
from hokusai_platform.doctor import watch as watching
from hokusai_platform.doctor.catalog import Diagnosis, diagnose
from hokusai_platform.doctor.session import open_context
from hokusai_platform.doctor.targets import (
    Target,
    environment_target,
    local_target,
    parse_dns_server,
)


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
        terraform=chosen.terraform,
    ) as context:
        return await diagnose(context, options.layers)


def main(options: Options) -> int:
    servers = tuple(parse_dns_server(value) for value in options.dns_servers)
    if options.local:
        chosen = local_target(options.data_dir, options.url, servers)
    else:
        assert options.environment is not None
        chosen = environment_target(
            options.terraform_root, options.environment, options.url, servers
        )
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
