"""Resources Terraform did not create: the provider's default tags are missing from them.

The outage began with an ECS service recreated by hand; such a resource has no
`managed-by = terraform` tag, and the next `terraform apply` will fight it.
"""

from __future__ import annotations

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor import cloudmap, ecs, load_balancer
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.task_definitions import running_task_definitions

TAG_KEY = "managed-by"
TAG_VALUE = "terraform"


def _managed(tags: list[dict[str, str]]) -> bool:
    # ECS spells tag fields `key`/`value`, Cloud Map and ELB spell them `Key`/`Value`.
    return any(
        (tag.get("key") or tag.get("Key")) == TAG_KEY
        and (tag.get("value") or tag.get("Value")) == TAG_VALUE
        for tag in tags
    )


async def _cloud_map_tags(context: Context, arn: str) -> list[dict[str, str]]:
    answer = await context.aws_api().call(
        "servicediscovery", "list_tags_for_resource", ResourceARN=arn
    )
    return list(answer["Tags"])


async def _tagged_resources(context: Context) -> dict[str, list[dict[str, str]]]:
    """Every resource the environment should hold, by a name a person recognises."""
    api = context.aws_api()
    expectations = context.expectations
    found: dict[str, list[dict[str, str]]] = {}
    clusters = await api.call(
        "ecs", "describe_clusters", clusters=[expectations.cluster], include=["TAGS"]
    )
    for cluster in clusters["clusters"]:
        found[f"ECS cluster {cluster['clusterName']}"] = cluster.get("tags", [])
    try:
        services = await ecs.describe_services(context)
    except ecs.ClusterMissing:
        services = {}
    for name, service in services.items():
        if service is not None:
            found[f"ECS service {name}"] = service.get("tags", [])
    for definition in (await running_task_definitions(context)).values():
        found[f"task definition {definition['family']}:{definition['revision']}"] = definition[
            "tags"
        ]
    namespace = await cloudmap.namespace(context)
    if namespace is not None:
        found[f"Cloud Map namespace {namespace['Name']}"] = await _cloud_map_tags(
            context, namespace["Arn"]
        )
    for expected in expectations.services:
        registry = await cloudmap.service(context, expected.name)
        if registry is not None:
            found[f"Cloud Map service {expected.name}"] = await _cloud_map_tags(
                context, registry["Arn"]
            )
        if expected.target_group is not None:
            group = await load_balancer.target_group(context, expected.target_group)
            if group is not None:
                arn = group["TargetGroupArn"]
                answer = await api.call("elbv2", "describe_tags", ResourceArns=[arn])
                found[f"target group {expected.target_group}"] = answer["TagDescriptions"][0][
                    "Tags"
                ]
    return found


async def managed_by_terraform(context: Context) -> list[CheckResult]:
    resources = await _tagged_resources(context)
    outside = sorted(name for name, tags in resources.items() if not _managed(tags))
    results = [
        CheckResult.warn(
            "aws.tags.managed-by",
            name,
            f"created outside Terraform: no {TAG_KEY} = {TAG_VALUE} tag",
            hint="bring it under Terraform (an `imports` entry for the environment, then "
            "`terraform apply`) instead of changing it by hand",
        )
        for name in outside
    ]
    if not outside:
        results.append(
            CheckResult.ok(
                "aws.tags.managed-by",
                context.expectations.environment,
                f"all {len(resources)} resources tagged {TAG_KEY} = {TAG_VALUE}",
            )
        )
    return results
