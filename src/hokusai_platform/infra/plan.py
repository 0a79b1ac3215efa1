"""`hokusai infra lint --plan`: judge what an apply would do, from `terraform show -json PLAN`.

A plan fails when it would create an ECS service without a Cloud Map registry or remove one
from a service, and when its refresh found a service whose registries were removed outside
Terraform: the outage, caught before anyone's traffic finds it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hokusai_platform.checks import CheckResult

PLAN_REGISTRIES = "plan.service-registries"


class PlanError(Exception):
    """The file is not a Terraform JSON plan; the message says how to make one."""


def read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(document, dict) or "format_version" not in document:
        raise PlanError(f"{path}: not a Terraform plan; make one with `terraform show -json PLAN`")
    return document


def _registered(values: dict[str, Any] | None) -> bool:
    if not values:
        return False
    connect = values.get("service_connect_configuration") or []
    return bool(values.get("service_registries")) or any(c.get("enabled") for c in connect)


def _service_name(change: dict[str, Any]) -> str:
    values = change.get("after") or change.get("before") or {}
    return str(values.get("name") or "?")


def check(plan: dict[str, Any], subject: str) -> list[CheckResult]:
    findings = []
    services = 0
    for drift in plan.get("resource_drift") or []:
        change = drift.get("change", {})
        if drift.get("type") != "aws_ecs_service" or _registered(change.get("after")):
            continue
        if _registered(change.get("before")):
            findings.append(
                CheckResult.fail(
                    PLAN_REGISTRIES,
                    subject,
                    f"{_service_name(change)} ({drift['address']}) lost its service registries "
                    "outside Terraform: its discovery name no longer resolves",
                    hint="apply this plan to register it again; never recreate services by CLI",
                )
            )
    for resource in plan.get("resource_changes") or []:
        if resource.get("type") != "aws_ecs_service":
            continue
        services += 1
        change = resource.get("change", {})
        actions = change.get("actions", [])
        name = f"{_service_name(change)} ({resource['address']})"
        if "create" in actions and not _registered(change.get("after")):
            evidence = f"{name} would be created without service registries"
        elif (
            "update" in actions
            and _registered(change.get("before"))
            and not _registered(change.get("after"))
        ):
            evidence = f"{name} would lose its service registries"
        else:
            continue
        findings.append(
            CheckResult.fail(
                PLAN_REGISTRIES,
                subject,
                evidence,
                hint="give the service a service_registries block (modules/ecs-service)",
            )
        )
    return findings or [
        CheckResult.ok(PLAN_REGISTRIES, subject, f"{services} ECS service(s) keep their registries")
    ]
