"""Logs layer: for each failing service, its last ERROR lines from CloudWatch, as evidence.

The recommendations' first step when services stay down is "check CloudWatch logs for
hokusai-api-development"; this does it for whichever service the other checks found broken.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.aws_api import ApiError, error_code
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.task_definitions import running_task_definitions
from hokusai_platform.infra.expectations import ServiceExpectation

WINDOW_SECONDS = 15 * 60
SHOWN_LINES = 5
MAX_LINE = 300


def failing_services(context: Context, results: Sequence[CheckResult]) -> list[ServiceExpectation]:
    """Services a failed result names: by ECS name, discovery name or target group.

    A failure at the registry URL is the API's, whatever its cause.
    """
    expectations = context.expectations
    failed = [result for result in results if result.status == "fail"]
    named = {result.subject for result in failed}
    return [
        service
        for service in expectations.services
        if named & {service.ecs_service, expectations.discovery_name(service), service.target_group}
        or (service.name == "api" and any(result.id.startswith("http.") for result in failed))
    ]


async def _log_group(context: Context, service: ServiceExpectation) -> str | None:
    definition = (await running_task_definitions(context)).get(service.ecs_service)
    if definition is not None:
        for container in definition["containerDefinitions"]:
            options = container.get("logConfiguration", {}).get("options", {})
            if "awslogs-group" in options:
                return str(options["awslogs-group"])
    return service.log_group


async def recent_errors(context: Context, results: Sequence[CheckResult]) -> list[CheckResult]:
    services = failing_services(context, results)
    if not services:
        return [
            CheckResult.ok("logs.errors", context.expectations.environment, "no service failed")
        ]
    start = int((time.time() - WINDOW_SECONDS) * 1000)
    found = []
    for service in services:
        group = await _log_group(context, service)
        if group is None:
            found.append(
                CheckResult.skipped(
                    "logs.errors", service.ecs_service, "no CloudWatch log group is configured"
                )
            )
            continue
        try:
            answer = await context.aws_api().call(
                "logs",
                "filter_log_events",
                logGroupName=group,
                startTime=start,
                filterPattern="ERROR",
                limit=100,
            )
        except ApiError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            found.append(
                CheckResult.warn(
                    "logs.errors",
                    service.ecs_service,
                    f"log group {group} does not exist: the service's output is lost",
                    hint="the log group is declared in Terraform: `terraform apply`",
                )
            )
            continue
        lines = [event["message"].strip()[:MAX_LINE] for event in answer["events"]]
        if lines:
            found.append(
                CheckResult.warn(
                    "logs.errors",
                    service.ecs_service,
                    f"last ERROR lines in {group}:\n" + "\n".join(lines[-SHOWN_LINES:]),
                    hint="these lines say why the service fails",
                )
            )
        else:
            found.append(
                CheckResult.ok(
                    "logs.errors",
                    service.ecs_service,
                    f"no ERROR lines in {group} in the last {WINDOW_SECONDS // 60} min",
                )
            )
    return found
