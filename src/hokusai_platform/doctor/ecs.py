"""ECS: the recommendations' `aws ecs describe-services … | jq '.services[0].serviceRegistries'`.

Each check reads the same `DescribeServices` answer (asked once per run) and judges one thing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor import cloudmap
from hokusai_platform.doctor.aws_api import ApiError, error_code
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.humanize import duration

APPLY_HINT = cloudmap.APPLY_HINT
# A rolling deployment that has not finished after this long will not finish on its own.
STUCK_AFTER_SECONDS = 30 * 60


class ClusterMissing(Exception):
    pass


async def describe_services(context: Context) -> dict[str, dict[str, Any] | None]:
    """Each expected ECS service by name; None when it does not exist (or is being deleted)."""
    expectations = context.expectations
    names = sorted(expected.ecs_service for expected in expectations.services)
    try:
        answer = await context.aws_api().call(
            "ecs",
            "describe_services",
            cluster=expectations.cluster,
            services=names,
            include=["TAGS"],
        )
    except ApiError as exc:
        if error_code(exc) == "ClusterNotFoundException":
            raise ClusterMissing(str(expectations.cluster)) from None
        raise
    active = {
        found["serviceName"]: found
        for found in answer["services"]
        if found.get("status") == "ACTIVE"
    }
    return {name: active.get(name) for name in names}


def _cluster_missing(check_id: str, context: Context) -> list[CheckResult]:
    return [
        CheckResult.fail(
            check_id,
            str(context.expectations.cluster),
            "the ECS cluster does not exist",
            hint=APPLY_HINT,
        )
    ]


async def service_exists(context: Context) -> list[CheckResult]:
    try:
        found = await describe_services(context)
    except ClusterMissing:
        return _cluster_missing("aws.ecs.service", context)
    results = []
    for expected in context.expectations.services:
        service = found[expected.ecs_service]
        if service is None:
            results.append(
                CheckResult.fail(
                    "aws.ecs.service",
                    expected.ecs_service,
                    f"no active ECS service in cluster {context.expectations.cluster}",
                    hint=APPLY_HINT,
                )
            )
        else:
            results.append(
                CheckResult.ok(
                    "aws.ecs.service", expected.ecs_service, _task_definition_name(service)
                )
            )
    return results


def _task_definition_name(service: dict[str, Any]) -> str:
    return "task definition " + str(service.get("taskDefinition", "?")).rsplit("/", 1)[-1]


async def tasks_running(context: Context) -> list[CheckResult]:
    """runningCount == desiredCount: no task at all is an outage, too few is a warning."""
    try:
        found = await describe_services(context)
    except ClusterMissing:
        return _cluster_missing("aws.ecs.tasks", context)
    results = []
    for name, service in found.items():
        if service is None:
            continue  # aws.ecs.service reports it
        running, desired = service["runningCount"], service["desiredCount"]
        evidence = f"{running} of {desired} task(s) running, {service['pendingCount']} pending"
        if desired == 0:
            results.append(
                CheckResult.warn(
                    "aws.ecs.tasks",
                    name,
                    evidence,
                    hint="the service is scaled to zero; desired_count comes from Terraform",
                )
            )
        elif running == 0:
            results.append(
                CheckResult.fail(
                    "aws.ecs.tasks",
                    name,
                    evidence,
                    hint="no task is serving: the service's events and its logs say why "
                    "tasks stop (image, secrets, health check)",
                )
            )
        elif running < desired:
            results.append(
                CheckResult.warn(
                    "aws.ecs.tasks",
                    name,
                    evidence,
                    hint="tasks are starting or crashing: see the service's events",
                )
            )
        else:
            results.append(CheckResult.ok("aws.ecs.tasks", name, evidence))
    return results


def judge_deployments(name: str, service: dict[str, Any], now: datetime) -> CheckResult:
    """A failed rollout, or one in progress for longer than any healthy rollout takes, fails."""
    for deployment in service.get("deployments", []):
        state = deployment.get("rolloutState", "COMPLETED")
        age = (now - deployment["createdAt"]).total_seconds()
        described = f"deployment {deployment['id']} {state} for {duration(age)}"
        if state == "FAILED":
            return CheckResult.fail(
                "aws.ecs.deployment",
                name,
                f"{described}: {deployment.get('rolloutStateReason', '')}".rstrip(": "),
                hint="the circuit breaker rolled back: fix the task definition, then "
                "`terraform apply`",
            )
        if state == "IN_PROGRESS" and age > STUCK_AFTER_SECONDS:
            return CheckResult.fail(
                "aws.ecs.deployment",
                name,
                f"{described}: stuck",
                hint="new tasks never become healthy: read the service's events and logs",
            )
    states = ", ".join(
        f"{deployment.get('status')} {deployment.get('rolloutState', '')}".strip()
        for deployment in service.get("deployments", [])
    )
    return CheckResult.ok("aws.ecs.deployment", name, states or "no deployments")


async def deployments(context: Context) -> list[CheckResult]:
    try:
        found = await describe_services(context)
    except ClusterMissing:
        return _cluster_missing("aws.ecs.deployment", context)
    now = datetime.now(UTC)
    return [
        judge_deployments(name, service, now)
        for name, service in found.items()
        if service is not None
    ]


async def service_registries(context: Context) -> list[CheckResult]:
    """The outage itself: a service without `serviceRegistries` vanishes from DNS."""
    try:
        found = await describe_services(context)
    except ClusterMissing:
        return _cluster_missing("aws.ecs.service-registries", context)
    expectations = context.expectations
    results = []
    for expected in expectations.services:
        service = found[expected.ecs_service]
        if service is None:
            continue
        name = expectations.discovery_name(expected)
        registry = await cloudmap.service(context, expected.name)
        registered = [entry["registryArn"] for entry in service.get("serviceRegistries", [])]
        if not registered:
            results.append(
                CheckResult.fail(
                    "aws.ecs.service-registries",
                    expected.ecs_service,
                    f"serviceRegistries is empty: its tasks are not registered in Cloud Map, "
                    f"so {name} cannot resolve",
                    hint="restore it with `terraform apply` (the configuration declares "
                    "service_registries); do not recreate or update the service by CLI, "
                    "that is how the registry was lost",
                )
            )
        elif registry is None or registry["Arn"] not in registered:
            wanted = registry["Arn"] if registry else f"Cloud Map service '{expected.name}'"
            results.append(
                CheckResult.fail(
                    "aws.ecs.service-registries",
                    expected.ecs_service,
                    f"registered in {', '.join(registered)}, expected {wanted} ({name})",
                    hint=APPLY_HINT,
                )
            )
        else:
            results.append(
                CheckResult.ok(
                    "aws.ecs.service-registries",
                    expected.ecs_service,
                    f"registers as {name} ({registry['Id']})",
                )
            )
    return results
