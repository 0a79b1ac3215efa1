"""Cloud Map: the namespace, its services, and the instances ECS registered in them."""

from __future__ import annotations

from typing import Any

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.context import Context
from hokusai_platform.infra.expectations import ServiceExpectation

# Cloud Map answers a MULTIVALUE query with at most this many records.
MAX_ANSWERS = 8
APPLY_HINT = "run `terraform apply` for the environment; do not create or register by hand"


async def namespace(context: Context) -> dict[str, Any] | None:
    answer = await context.aws_api().call(
        "servicediscovery",
        "list_namespaces",
        Filters=[{"Name": "NAME", "Values": [context.expectations.namespace], "Condition": "EQ"}],
    )
    found: list[dict[str, Any]] = answer["Namespaces"]
    return found[0] if found else None


async def service(context: Context, name: str) -> dict[str, Any] | None:
    """The Cloud Map service `name` in the environment's namespace, if both exist."""
    found_namespace = await namespace(context)
    if found_namespace is None:
        return None
    answer = await context.aws_api().call(
        "servicediscovery",
        "list_services",
        Filters=[{"Name": "NAMESPACE_ID", "Values": [found_namespace["Id"]], "Condition": "EQ"}],
    )
    services: list[dict[str, Any]] = answer["Services"]
    return next((found for found in services if found["Name"] == name), None)


async def discover(context: Context, expected: ServiceExpectation) -> list[dict[str, Any]]:
    """The service's instances, each with its `HealthStatus`, as Cloud Map's DNS sees them.

    Read by service id (ListInstances, GetInstancesHealthStatus) rather than DiscoverInstances:
    the same answer, without the `data-` endpoint and without depending on how the service
    names its namespace (moto only links `NamespaceId`, not `DnsConfig.NamespaceId`).
    """
    found = await service(context, expected.name)
    if found is None:
        return []
    api = context.aws_api()
    listed = await api.call("servicediscovery", "list_instances", ServiceId=found["Id"])
    health = await api.call(
        "servicediscovery", "get_instances_health_status", ServiceId=found["Id"]
    )
    statuses: dict[str, str] = health["Status"]
    return [
        {**instance, "HealthStatus": statuses.get(instance["Id"], "HEALTHY")}
        for instance in listed["Instances"]
    ]


def address(instance: dict[str, Any]) -> str:
    return str(instance.get("Attributes", {}).get("AWS_INSTANCE_IPV4", "?"))


def answer_set(instances: list[dict[str, Any]]) -> set[str]:
    """The addresses DNS should give: the healthy ones, or all of them when none is (fail open)."""
    healthy = {address(found) for found in instances if found.get("HealthStatus") == "HEALTHY"}
    return healthy or {address(found) for found in instances}


async def instances(context: Context) -> list[CheckResult]:
    """Each discovery name has registered instances, and they are healthy."""
    expectations = context.expectations
    if await namespace(context) is None:
        return [
            CheckResult.fail(
                "aws.cloudmap.instances",
                expectations.namespace,
                "the Cloud Map namespace does not exist",
                hint=APPLY_HINT,
            )
        ]
    results = []
    for expected in expectations.services:
        name = expectations.discovery_name(expected)
        if await service(context, expected.name) is None:
            results.append(
                CheckResult.fail(
                    "aws.cloudmap.instances",
                    name,
                    f"Cloud Map service '{expected.name}' does not exist",
                    hint=APPLY_HINT,
                )
            )
            continue
        found = await discover(context, expected)
        healthy = sorted(address(i) for i in found if i.get("HealthStatus") == "HEALTHY")
        unhealthy = sorted(address(i) for i in found if i.get("HealthStatus") != "HEALTHY")
        evidence = f"{len(healthy)} healthy {healthy}, {len(unhealthy)} unhealthy {unhealthy}"
        if not found:
            results.append(
                CheckResult.fail(
                    "aws.cloudmap.instances",
                    name,
                    "no instances registered: the name does not resolve",
                    hint=f"ECS registers the tasks of {expected.ecs_service} only when its "
                    "serviceRegistries point here and tasks run: see aws.ecs.* for it",
                )
            )
        elif not healthy:
            results.append(
                CheckResult.fail(
                    "aws.cloudmap.instances",
                    name,
                    evidence,
                    hint=f"every task of {expected.ecs_service} fails its health check: "
                    "read its logs (logs layer)",
                )
            )
        elif unhealthy:
            results.append(
                CheckResult.warn(
                    "aws.cloudmap.instances",
                    name,
                    evidence,
                    hint=f"some tasks of {expected.ecs_service} fail their health check",
                )
            )
        else:
            results.append(CheckResult.ok("aws.cloudmap.instances", name, evidence))
    return results
