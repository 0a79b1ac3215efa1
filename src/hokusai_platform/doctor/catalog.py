"""Every check, by layer, and the one way to run a selection of them."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass

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
from hokusai_platform.doctor.check import LAYERS, Check, Outcome, run_checks
from hokusai_platform.doctor.context import Context

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


@dataclass(frozen=True)
class Diagnosis:
    results: list[CheckResult]
    # From a layer's first check starting to its last answering; layers overlap.
    layer_seconds: dict[str, float]


async def diagnose(context: Context, layers: Collection[str]) -> Diagnosis:
    """Run the checks of `layers`; results ordered by layer, then as listed above.

    Terraform's plan is the slowest check by far: it starts first, and the other layers run
    while it plans.
    """
    planning = asyncio.ensure_future(
        run_checks([TERRAFORM] if "terraform" in layers else [], context)
    )
    outcomes = await run_checks([check for check in CHECKS if check.layer in layers], context)
    if "logs" in layers:
        # Logs are read for the services the other checks found failing, so they run after them.
        found = [result for outcome in outcomes for result in outcome.results]
        errors = Check("logs.errors", lambda context: logs.recent_errors(context, found))
        outcomes += await run_checks([errors], context)
    outcomes += await planning
    results = [result for outcome in outcomes for result in outcome.results]
    results.sort(key=lambda result: LAYERS.index(result.id.split(".", 1)[0]))
    return Diagnosis(results, _layer_seconds(outcomes))


def _layer_seconds(outcomes: Sequence[Outcome]) -> dict[str, float]:
    seconds = {}
    for layer in LAYERS:
        ran = [outcome for outcome in outcomes if outcome.check.layer == layer]
        if ran:
            seconds[layer] = max(o.finished for o in ran) - min(o.started for o in ran)
    return seconds
