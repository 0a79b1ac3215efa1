"""ALB target health: the recommendations' "check ALB target health"."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.aws_api import ApiError, error_code
from hokusai_platform.doctor.cloudmap import APPLY_HINT
from hokusai_platform.doctor.context import Context


async def target_group(context: Context, name: str) -> dict[str, Any] | None:
    try:
        answer = await context.aws_api().call("elbv2", "describe_target_groups", Names=[name])
    except ApiError as exc:
        if error_code(exc) == "TargetGroupNotFound":
            return None
        raise
    found: dict[str, Any] = answer["TargetGroups"][0]
    return found


async def targets(context: Context) -> list[CheckResult]:
    results = []
    for expected in context.expectations.services:
        if expected.target_group is None:
            continue
        group = await target_group(context, expected.target_group)
        if group is None:
            results.append(
                CheckResult.fail(
                    "aws.elb.targets",
                    expected.target_group,
                    "the target group does not exist",
                    hint=APPLY_HINT,
                )
            )
            continue
        if group["Port"] != expected.port:
            results.append(
                CheckResult.fail(
                    "aws.elb.targets",
                    expected.target_group,
                    f"forwards to port {group['Port']}, {expected.ecs_service} listens on "
                    f"{expected.port}",
                    hint=APPLY_HINT,
                )
            )
            continue
        answer = await context.aws_api().call(
            "elbv2", "describe_target_health", TargetGroupArn=group["TargetGroupArn"]
        )
        states = Counter(
            description["TargetHealth"]["State"]
            for description in answer["TargetHealthDescriptions"]
        )
        evidence = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        if not states:
            results.append(
                CheckResult.fail(
                    "aws.elb.targets",
                    expected.target_group,
                    "no targets registered: the load balancer has nowhere to send requests",
                    hint=f"ECS registers the tasks of {expected.ecs_service} here once they "
                    "run: see aws.ecs.tasks",
                )
            )
        elif states["healthy"] == 0:
            results.append(
                CheckResult.fail(
                    "aws.elb.targets",
                    expected.target_group,
                    evidence,
                    hint="no target passes the health check: read the API's /health and logs",
                )
            )
        elif states["healthy"] < sum(states.values()):
            results.append(
                CheckResult.warn(
                    "aws.elb.targets",
                    expected.target_group,
                    evidence,
                    hint="some targets fail the health check or are draining",
                )
            )
        else:
            results.append(CheckResult.ok("aws.elb.targets", expected.target_group, evidence))
    return results
