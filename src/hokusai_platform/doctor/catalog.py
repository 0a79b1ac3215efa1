"""Every check, by layer, and the one way to run a selection of them."""

from __future__ import annotations

from collections.abc import Collection

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor import (
    cloudmap,
    dns,
    ecs,
    http,
    load_balancer,
    logs,
    tags,
    task_definitions,
    terraform,
)
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.runner import LAYERS, Check, run_checks

CHECKS = (
    Check("http.health", http.health),
    Check("http.mlflow-version", http.mlflow_version),
    Check("dns.resolve", dns.resolves),
    Check("dns.matches-cloudmap", dns.matches_cloud_map),
    Check("dns.negative-ttl", dns.negative_ttl),
    Check("aws.ecs.service", ecs.service_exists),
    Check("aws.ecs.tasks", ecs.tasks_running),
    Check("aws.ecs.deployment", ecs.deployments),
    Check("aws.ecs.service-registries", ecs.service_registries),
    Check("aws.cloudmap.instances", cloudmap.instances),
    Check("aws.taskdef.endpoints", task_definitions.endpoints),
    Check("aws.ssm.parameters", task_definitions.ssm_parameters),
    Check("aws.elb.targets", load_balancer.targets),
    Check("aws.tags.managed-by", tags.managed_by_terraform),
)
# Terraform refreshes every resource; it gets its own, longer deadline.
TERRAFORM = Check("terraform.drift", terraform.drift, timeout=terraform.TIMEOUT_SECONDS)


async def diagnose(context: Context, layers: Collection[str]) -> list[CheckResult]:
    """Run the checks of `layers`; results ordered by layer, then as listed above."""
    selected = [check for check in CHECKS if check.layer in layers]
    if "terraform" in layers:
        selected.append(TERRAFORM)
    results = await run_checks(selected, context)
    if "logs" in layers:
        # Logs are read for the services the other checks found failing, so they run last.
        errors = Check("logs.errors", lambda context: logs.recent_errors(context, results))
        results += await run_checks([errors], context)
    return sorted(results, key=lambda result: LAYERS.index(result.id.split(".", 1)[0]))
