"""Task definitions: endpoints are discovery names, and the secrets they reference exist.

The workaround after the outage hard-coded MLflow's private IP; a running task definition
with an IP literal in an endpoint variable is that workaround still deployed. A fallback
pinned with `hokusai endpoint pin` is the same workaround on record, so it only warns.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor import ecs
from hokusai_platform.doctor.context import Context

# Variables holding where a service finds another one (the recommendations' Phase 3).
ENDPOINT_SUFFIXES = ("_URL", "_URI", "_HOST", "_ENDPOINT")
PIN_VARIABLE = "MLFLOW_FALLBACK_URLS"


async def running_task_definitions(context: Context) -> dict[str, dict[str, Any]]:
    """The task definition each existing service runs, by service name."""
    try:
        services = await ecs.describe_services(context)
    except ecs.ClusterMissing:
        return {}  # aws.ecs.service names the missing cluster
    found = {}
    for name, service in services.items():
        if service is None:
            continue
        answer = await context.aws_api().call(
            "ecs",
            "describe_task_definition",
            taskDefinition=service["taskDefinition"],
            include=["TAGS"],
        )
        found[name] = {**answer["taskDefinition"], "tags": answer.get("tags", [])}
    return found


def _ip_literal(value: str) -> str | None:
    """The IP address an endpoint value names; a listen address (0.0.0.0) names no endpoint."""
    host = urlsplit(value).hostname if "://" in value else value.rsplit(":", 1)[0]
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return None
    return None if address.is_unspecified else host


async def endpoints(context: Context) -> list[CheckResult]:
    results = []
    now = datetime.now(UTC)
    for name, definition in (await running_task_definitions(context)).items():
        revision = f"{definition['family']}:{definition['revision']}"
        literals, pinned = [], ""
        for container in definition["containerDefinitions"]:
            for variable in container.get("environment", []):
                key, value = variable["name"], variable.get("value", "")
                if key == PIN_VARIABLE:
                    pinned = value.strip()
                elif key.endswith(ENDPOINT_SUFFIXES) and (address := _ip_literal(value)):
                    literals.append(f"{container['name']}: {key}={value} ({address})")
        if literals:
            results.append(
                CheckResult.fail(
                    "aws.taskdef.endpoints",
                    name,
                    f"{revision} hard-codes an IP: " + "; ".join(literals),
                    hint="use the discovery name (http://mlflow.<namespace>:5000) in Terraform; "
                    "for a temporary direct route use `hokusai endpoint pin`",
                )
            )
        elif pinned:
            results.append(_pin_warning(context, name, pinned, now))
        else:
            results.append(
                CheckResult.ok("aws.taskdef.endpoints", name, f"{revision} uses discovery names")
            )
    return results


def _pin_warning(context: Context, service: str, value: str, now: datetime) -> CheckResult:
    record = context.expectations.pin
    described = []
    for url in (url.strip() for url in value.split(",") if url.strip()):
        if record is None or record.url != url:
            described.append(f"{url} (no pin record: age and reason unknown)")
        else:
            age = (now.date() - record.since).days
            described.append(f"{url} pinned {age} day(s) ago ({record.since}): {record.reason}")
    return CheckResult.warn(
        "aws.taskdef.endpoints",
        service,
        "fallback pinned: " + "; ".join(described),
        hint="once discovery is healthy, `hokusai endpoint unpin mlflow` and `terraform apply`",
    )


def _parameter_name(value_from: str) -> str:
    """`valueFrom` is a name or an ARN (`arn:aws:ssm:…:parameter/name`)."""
    if value_from.startswith("arn:") and ":parameter/" in value_from:
        return "/" + value_from.split(":parameter/", 1)[1]
    return value_from


async def ssm_parameters(context: Context) -> list[CheckResult]:
    """Every SSM parameter a running task definition reads exists (else tasks cannot start)."""
    wanted: dict[str, set[str]] = {}
    for name, definition in (await running_task_definitions(context)).items():
        for container in definition["containerDefinitions"]:
            for secret in container.get("secrets", []):
                value_from = secret["valueFrom"]
                if value_from.startswith("arn:aws:secretsmanager:"):
                    continue
                wanted.setdefault(_parameter_name(value_from), set()).add(name)
    if not wanted:
        return []
    missing: set[str] = set()
    names = sorted(wanted)
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        answer = await context.aws_api().call(
            "ssm", "get_parameters", Names=names[start : start + 10]
        )
        missing.update(_parameter_name(name) for name in answer["InvalidParameters"])
    return [
        CheckResult.fail(
            "aws.ssm.parameters",
            parameter,
            f"does not exist; read by {', '.join(sorted(wanted[parameter]))}",
            hint="declare it in Terraform (aws_ssm_parameter) and `terraform apply`; "
            "tasks cannot start without it",
        )
        if parameter in missing
        else CheckResult.ok(
            "aws.ssm.parameters",
            parameter,
            f"exists; read by {', '.join(sorted(wanted[parameter]))}",
        )
        for parameter in names
    ]
