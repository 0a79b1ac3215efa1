"""Acceptance: `development` applied by the real `terraform` to moto_server, then doctor.

The apply is the infra tests' own (a copy of deploy/terraform with override files pointing at
moto), on a moto_server of its own so the region infra's tests apply in is free here too.
What ECS itself would do after the apply, moto does not: start tasks, register them in Cloud
Map and in the target group. The test does those things, as ECS would, and nothing else: no
second apply and no `apply -refresh-only`, so doctor sees the state the first apply wrote.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.processes import executable, free_port, moto_server, wait_for_http
from support.terraform import (
    REGION,
    cli_environment,
    copy_tree,
    create_network_and_certificate,
    environment_process,
    point_at_moto,
    terraform,
)

from hokusai_platform.infra import layout

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Applied:
    tree: Path
    environment: layout.Environment
    env: dict[str, str]  # what `hokusai doctor` runs with: it sets TF_DATA_DIR itself


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    workdir = tmp_path_factory.mktemp("doctor-applied")
    port = free_port()
    server = moto_server(workdir / "moto.log", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/moto-api/data.json", timeout=30, process=server.process)
        cli = {**cli_environment(workdir), "AWS_ENDPOINT_URL": url, "AWS_REGION": REGION}
        with pytest.MonkeyPatch.context() as patch:
            for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                patch.setenv(name, cli[name])
            create_network_and_certificate()
            tree = copy_tree(workdir / "terraform")
            development = layout.environment(tree, "development")
            env = environment_process(development, cli)
            point_at_moto(development, url, REGION)
            variables = f"-var-file={development.variables_file}"
            terraform(tree, env, "init", "-input=false", "-no-color")
            terraform(tree, env, "apply", "-auto-approve", "-input=false", "-no-color", variables)
            run_as_ecs_would(tree, env)
            yield Applied(tree, development, cli)
    finally:
        server.stop()


def run_as_ecs_would(root: Path, env: dict[str, str]) -> None:
    """Tasks running, registered in their Cloud Map service and (the API) in the target group."""
    outputs = json.loads(terraform(root, env, "output", "-json").stdout)
    cluster = outputs["cluster_name"]["value"]
    ecs = boto3.client("ecs", region_name=REGION)
    discovery = boto3.client("servicediscovery", region_name=REGION)
    elb = boto3.client("elbv2", region_name=REGION)
    for index, service_name in enumerate(outputs["ecs_services"]["value"].values()):
        address = f"10.0.1.{10 + index}"
        # moto starts no tasks; an update to the same desiredCount is how it reports them
        # running (no change Terraform could see).
        ecs.update_service(cluster=cluster, service=service_name, desiredCount=1)
        [service] = ecs.describe_services(cluster=cluster, services=[service_name])["services"]
        [registry] = service["serviceRegistries"]
        discovery.register_instance(
            ServiceId=registry["registryArn"].rsplit("/", 1)[1],
            InstanceId=f"task-{index}",
            Attributes={"AWS_INSTANCE_IPV4": address},
        )
        for balancer in service["loadBalancers"]:
            elb.register_targets(
                TargetGroupArn=balancer["targetGroupArn"],
                Targets=[{"Id": address, "Port": balancer["containerPort"]}],
            )


def doctor(applied: Applied, *args: str) -> tuple[int, dict[str, Any]]:
    command = [executable("hokusai"), "doctor", "--env=development", "--json", *args]
    ran = subprocess.run(
        [*command, f"--terraform-root={applied.tree}", f"--region={REGION}"],
        capture_output=True,
        text=True,
        env=applied.env,
        timeout=300,
    )
    assert not ran.stderr, ran.stderr
    return ran.returncode, json.loads(ran.stdout)


def refreshed_attributes(applied: Applied) -> dict[str, list[str]]:
    """address => the attributes a refresh finds changed since the apply (bookkeeping included)."""
    plan = applied.tree / "refresh.tfplan"
    env = environment_process(applied.environment, applied.env)
    variables = f"-var-file={applied.environment.variables_file}"
    options = ("-refresh-only", "-input=false", "-lock=false", variables, f"-out={plan}")
    terraform(applied.tree, env, "plan", *options)
    shown = json.loads(terraform(applied.tree, env, "show", "-json", str(plan)).stdout)
    plan.unlink()
    return {
        drift["address"]: [
            key
            for key in drift["change"]["after"]
            if drift["change"]["before"].get(key) != drift["change"]["after"][key]
        ]
        for drift in shown.get("resource_drift", [])
    }


def test_straight_after_the_first_apply_doctor_is_green(applied: Applied) -> None:
    """Doctor must not take for drift what the configuration itself did. A refresh right
    after the first apply finds, as it would on AWS, attributes that other resources of the
    configuration set: the roles' inline_policy (aws_iam_role_policy), the target group's
    load_balancer_arns (its listener), the bucket's versioning and encryption (their own
    resources); and unset values read back as empty ones (tags) or false (the encryption
    rule's bucket_key_enabled). Only moto: it drops the services'
    health_check_grace_period_seconds and availability_zone_rebalancing on create, so the
    plan would update both services; that is a pending change, not one made outside
    Terraform, and doctor leaves it alone."""
    refreshed = refreshed_attributes(applied)
    assert "inline_policy" in refreshed["module.platform.aws_iam_role.execution"]
    assert "load_balancer_arns" in refreshed["module.platform.aws_lb_target_group.api"]
    assert {"versioning", "server_side_encryption_configuration"} <= set(
        refreshed["module.platform.aws_s3_bucket.artifacts"]
    )

    code, document = doctor(applied, "--only=aws,logs,terraform")

    found = document["results"]
    problems = [(r["id"], r["subject"], r["evidence"]) for r in found if r["status"] != "ok"]
    assert problems == [], "\n".join(map(str, problems))
    assert code == 0
    [drift] = [r for r in found if r["id"] == "terraform.drift"]
    assert drift["evidence"] == "the environment matches its state"
    assert set(document["layer_seconds"]) == {"aws", "logs", "terraform"}


def test_the_api_recreated_without_its_registry_is_drift_naming_the_service(
    applied: Applied,
) -> None:
    """The outage, on the applied environment (last: it changes the environment)."""
    ecs = boto3.client("ecs", region_name=REGION)
    cluster, name = "hokusai-development", "hokusai-api-development"
    [service] = ecs.describe_services(cluster=cluster, services=[name])["services"]
    ecs.delete_service(cluster=cluster, service=name, force=True)
    ecs.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=service["taskDefinition"],
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=service["networkConfiguration"],
        loadBalancers=service["loadBalancers"],
        serviceRegistries=[],
    )

    code, document = doctor(applied, "--only=aws,terraform")

    found = {(r["id"], r["subject"]): r for r in document["results"]}
    registries = found["aws.ecs.service-registries", name]
    assert code == 2
    assert registries["status"] == "fail"
    assert "serviceRegistries is empty" in registries["evidence"]
    [drift] = [r for r in document["results"] if r["id"] == "terraform.drift"]
    assert drift["status"] == "fail"
    assert "module.platform.module.api.aws_ecs_service.this: " in drift["evidence"]
    assert "service_registries" in drift["evidence"]
    assert "mlflow" not in drift["evidence"]
