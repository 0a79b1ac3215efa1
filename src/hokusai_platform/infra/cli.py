"""`hokusai infra lint` and `hokusai endpoint pin|unpin`: thin commands over lint, plan and pin."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from hokusai_platform.checks import render_json, render_table
from hokusai_platform.infra import hcl, layout, lint, pin, plan

FINDINGS = 1


class UsageProblem(click.ClickException):
    """Bad input to a command, told in one line (click's UsageError adds the usage text)."""

    exit_code = 2


def _today() -> date:
    return datetime.now(UTC).date()


def _root(terraform_root: Path | None) -> Path:
    try:
        return layout.find_root(terraform_root)
    except layout.LayoutError as exc:
        raise UsageProblem(str(exc)) from None


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it: a command to copy."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


@click.group()
def infra() -> None:
    """The Terraform tree (deploy/terraform): the one source of truth for the platform."""


@infra.command("lint")
@click.argument(
    "path", required=False, type=click.Path(exists=True, path_type=Path), metavar="[PATH]"
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="PLAN_JSON",
    help="Also judge a plan: `terraform show -json tfplan > plan.json`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def lint_command(path: Path | None, plan_file: Path | None, as_json: bool) -> None:
    """Check the Terraform tree (and optionally a plan) for what caused the outage.

    \b
    Rules (each finding has file:line and a fix):
      ecs.service-registries  every aws_ecs_service registers in Cloud Map (or Service Connect)
      ecs.grace-period        services behind a load balancer set a health-check grace period
      discovery.ttl           Cloud Map DNS TTLs between 5 and 60 seconds
      endpoint.ip-literal     endpoint variables (*_URL, *_HOST, ...) name services, not IPs
      endpoint.pinned         a `hokusai endpoint pin` in force: a warning with its age
      ssm.declared            SSM parameters used as valueFrom are declared
      backend.locking         the state backend locks (use_lockfile or DynamoDB)
      keys.shared-store       gateway tasks read HOKUSAI_DATABASE_URL from a secret (not SQLite)
      ecs.circuit-breaker     ECS services roll back deployments that never turn healthy
      ecs.stop-timeout        gateway stopTimeout covers its drain and drain timeout, <= 120
      lb.deregistration-delay target groups of gateways wait at least their drain
      lb.access-logs          application load balancers write access logs
      gateway.metrics-port    /metrics on HOKUSAI_METRICS_PORT, not open to the world
      gateway.allowed-hosts   gateway tasks set HOKUSAI_ALLOWED_HOSTS
      gateway.audit-log       the audit log goes to stderr (CloudWatch), not a file
      plan.service-registries with --plan: no service created or left without registries

    \b
    PATH defaults to $HOKUSAI_TERRAFORM_ROOT, else deploy/terraform here or above.
    Exit status: 0 clean, 1 findings (failures or warnings), 2 usage error.
    """
    root = path or _root(None)
    try:
        results = lint.lint(hcl.load(root), _today())
        if plan_file is not None:
            results += plan.check(plan.read(plan_file), str(plan_file))
    except (hcl.HclError, plan.PlanError) as exc:
        raise UsageProblem(str(exc)) from None
    click.echo(render_json(results) if as_json else render_table(results))
    if any(result.status in ("fail", "warn") for result in results):
        sys.exit(FINDINGS)


@click.group()
def endpoint() -> None:
    """Pin a service to a direct URL while discovery is broken, on record; unpin it after."""


_SERVICE = click.argument("service", type=click.Choice(["mlflow"]), metavar="mlflow")
_ENVIRONMENT = click.option(
    "--env", "environment", required=True, metavar="ENV", help="development, staging, production."
)
terraform_root_option = click.option(
    "--terraform-root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The Terraform root [env HOKUSAI_TERRAFORM_ROOT; default: deploy/terraform here or up].",
)


def _environment(terraform_root: Path | None, name: str) -> layout.Environment:
    try:
        return layout.environment(_root(terraform_root), name)
    except layout.LayoutError as exc:
        raise UsageProblem(str(exc)) from None


def _apply_hint(environment: layout.Environment) -> None:
    data_dir = environment.data_dir.relative_to(environment.root)
    variables_file = environment.variables_file.relative_to(environment.root)
    click.echo("Review and apply it:")
    click.echo(
        f"  TF_DATA_DIR={data_dir} terraform -chdir={_shown(environment.root)} apply "
        f"-var-file={variables_file}"
    )


@endpoint.command("pin")
@_SERVICE
@click.argument("url")
@_ENVIRONMENT
@click.option("--reason", required=True, help="Why, in one line: it is kept with the pin.")
@terraform_root_option
def pin_command(
    service: str, url: str, environment: str, reason: str, terraform_root: Path | None
) -> None:
    """Make the API fall back to URL (e.g. http://10.0.1.88:5000) when discovery has no answer.

    Writes `mlflow_pin = {url, reason, since}` into the environment's terraform.tfvars and
    nothing else; `terraform apply` then sets MLFLOW_FALLBACK_URLS in the API's task definition.
    `hokusai infra lint` and `hokusai doctor` report the pin, with its age, until it is removed.
    """
    chosen = _environment(terraform_root, environment)
    variables_file = chosen.variables_file
    try:
        made = pin.pin(variables_file, url, reason, _today())
    except pin.PinError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"pinned {service} to {made.url} in {_shown(variables_file)} ({made.reason})")
    _apply_hint(chosen)


@endpoint.command("unpin")
@_SERVICE
@_ENVIRONMENT
@terraform_root_option
def unpin_command(service: str, environment: str, terraform_root: Path | None) -> None:
    """Remove the pin: the API relies on discovery alone again."""
    chosen = _environment(terraform_root, environment)
    variables_file = chosen.variables_file
    try:
        removed = pin.unpin(variables_file)
    except pin.PinError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"unpinned {service} (was {removed.url} since {removed.since}) in {_shown(variables_file)}"
    )
    _apply_hint(chosen)
