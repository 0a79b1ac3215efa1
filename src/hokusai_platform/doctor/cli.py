"""`hokusai doctor`: select the checks, run them, render the results. Nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hokusai_platform.doctor.check import LAYERS
from hokusai_platform.infra.cli import terraform_root_option
from hokusai_platform.stack.commands import data_dir_option

LOCAL_LAYERS = ("http", "dns")


def _layers(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    chosen = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(set(chosen) - set(LAYERS))
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown layer {', '.join(unknown) or '(none)'}; choose from {', '.join(LAYERS)}"
        )
    return chosen


def _dns_servers(values: tuple[str, ...]) -> list[str]:
    if values:
        return list(values)
    listed = os.environ.get("HOKUSAI_DNS_SERVERS", "").split(",")
    return [part.strip() for part in listed if part.strip()]


@click.command()
@click.option("--env", "environment", metavar="ENV", help="Environment to check, e.g. development.")
@click.option("--local", is_flag=True, help="Check the stack `hokusai up` runs (http and dns).")
@click.option("--url", help="Registry URL [default: https://<registry host> from Terraform].")
@click.option(
    "--dns-server",
    "dns_servers",
    multiple=True,
    metavar="HOST:PORT",
    help="DNS server to ask (repeatable) [env HOKUSAI_DNS_SERVERS; default: the system's].",
)
@click.option("--only", "only", metavar="LAYERS", help=f"Comma-separated: {','.join(LAYERS)}.")
@click.option("--region", help="AWS region [default: the environment's, from Terraform].")
@terraform_root_option
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--watch",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Re-run every SECONDS and print only what changed, until Ctrl-C.",
)
def doctor(
    environment: str | None,
    local: bool,
    url: str | None,
    dns_servers: tuple[str, ...],
    only: str | None,
    region: str | None,
    terraform_root: Path | None,
    data_dir: Path,
    as_json: bool,
    watch: float | None,
) -> None:
    """Check a live environment against its Terraform: name the fault and the fix.

    \b
    Layers, each check ok / warn / fail / skipped (with the reason):
      http       <url>/health and <url>/api/mlflow/version
      dns        api.<namespace> and mlflow.<namespace> resolve, match Cloud Map,
                 and NXDOMAIN is not cached for long
      aws        ECS services, tasks, deployments, serviceRegistries; Cloud Map
                 instances; task definition endpoints and pins; SSM parameters;
                 ALB targets; the managed-by = terraform tag
      logs       the last ERROR lines of each failing service (CloudWatch)
      terraform  terraform plan: what was changed outside Terraform, by resource

    \b
    Exit status: 0 all ok (or skipped), 1 warnings only, 2 failures.
    Expectations (cluster, services, namespace, registry host) come from the
    Terraform root with environments/<env>/terraform.tfvars; AWS_ENDPOINT_URL is honoured.

    \b
    Examples:
      hokusai doctor --env development
      hokusai doctor --env production --only http,dns --dns-server 10.0.0.2:53
      hokusai doctor --local --watch 5
    """
    from hokusai_platform.doctor import report

    if local == (environment is not None):
        raise click.UsageError("give either --env ENV or --local")
    layers = _layers(only)
    if local and layers and set(layers) - set(LOCAL_LAYERS):
        raise click.UsageError("--local checks the http and dns layers only")
    code = report.main(
        report.Options(
            environment=environment,
            local=local,
            url=url,
            dns_servers=_dns_servers(dns_servers),
            layers=layers or (LOCAL_LAYERS if local else LAYERS),
            region=region,
            terraform_root=terraform_root,
            data_dir=data_dir,
            as_json=as_json,
            watch=watch,
        )
    )
    raise SystemExit(code)
