"""The AWS layer against moto_server: green when built as declared, and each check's failure."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from support.aws import MotoEnvironment

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor import ecs
from hokusai_platform.doctor.catalog import diagnose
from hokusai_platform.doctor.session import open_context
from hokusai_platform.infra.expectations import Expectations
from hokusai_platform.infra.pin import Pin


def run(environment: MotoEnvironment, layers: set[str] | None = None) -> list[CheckResult]:
    async def go() -> list[CheckResult]:
        async with open_context(environment.expectations, region=environment.region) as context:
            return (await diagnose(context, layers or {"aws"})).results

    return asyncio.run(go())


def only(results: list[CheckResult], check_id: str, subject: str) -> CheckResult:
    [found] = [r for r in results if r.id == check_id and r.subject == subject]
    return found


def test_an_environment_built_as_declared_is_green(moto_environment: MotoEnvironment) -> None:
    results = run(moto_environment)

    assert {r.id for r in results} >= {
        "aws.ecs.service",
        "aws.ecs.tasks",
        "aws.ecs.deployment",
        "aws.ecs.service-registries",
        "aws.cloudmap.instances",
        "aws.taskdef.endpoints",
        "aws.ssm.parameters",
        "aws.elb.targets",
        "aws.tags.managed-by",
    }
    assert [(r.id, r.subject, r.evidence) for r in results if r.status != "ok"] == []


def test_the_outage_names_the_service_the_missing_registry_and_the_fix(
    moto_environment: MotoEnvironment,
) -> None:
    moto_environment.recreate_without_registries("api")

    results = run(moto_environment)

    registries = only(results, "aws.ecs.service-registries", "hokusai-api-development")
    assert registries.status == "fail"
    assert "serviceRegistries is empty" in registries.evidence
    assert "api.hokusai-development.local" in registries.evidence
    assert "terraform apply" in registries.hint
    assert "do not recreate" in registries.hint
    untagged = only(results, "aws.tags.managed-by", "ECS service hokusai-api-development")
    assert untagged.status == "warn"
    assert "created outside Terraform" in untagged.evidence


def test_a_deregistered_service_fails_naming_its_discovery_name(
    moto_environment: MotoEnvironment,
) -> None:
    moto_environment.deregister_all("mlflow")

    result = only(
        run(moto_environment), "aws.cloudmap.instances", "mlflow.hokusai-development.local"
    )

    assert result.status == "fail"
    assert "no instances registered" in result.evidence


def test_unhealthy_instances_fail_when_none_is_healthy(moto_environment: MotoEnvironment) -> None:
    discovery = moto_environment.client("servicediscovery")
    service_id = moto_environment.cloud_map_service_id("mlflow")
    for instance in discovery.list_instances(ServiceId=service_id)["Instances"]:
        discovery.update_instance_custom_health_status(
            ServiceId=service_id, InstanceId=instance["Id"], Status="UNHEALTHY"
        )

    result = only(
        run(moto_environment), "aws.cloudmap.instances", "mlflow.hokusai-development.local"
    )

    assert result.status == "fail"
    assert "0 healthy" in result.evidence


def test_a_missing_service_fails_and_points_at_terraform(moto_environment: MotoEnvironment) -> None:
    moto_environment.client("ecs").delete_service(
        cluster=moto_environment.cluster, service="hokusai-mlflow-development", force=True
    )

    result = only(run(moto_environment), "aws.ecs.service", "hokusai-mlflow-development")

    assert result.status == "fail"
    assert "terraform apply" in result.hint


def test_a_missing_cluster_fails_naming_it(expectations: Expectations, region: str) -> None:
    results = run(MotoEnvironment(expectations, region))

    cluster = only(results, "aws.ecs.service", "hokusai-development")
    assert cluster.status == "fail"
    assert "cluster does not exist" in cluster.evidence


def test_a_service_with_no_task_running_fails(moto_environment: MotoEnvironment) -> None:
    expected = moto_environment.service("api")
    moto_environment.client("ecs").delete_service(
        cluster=moto_environment.cluster, service=expected.ecs_service, force=True
    )
    registry = moto_environment.client("servicediscovery").get_service(
        Id=moto_environment.cloud_map_service_id("api")
    )["Service"]
    moto_environment.create_service(
        expected, registries=[{"registryArn": registry["Arn"]}], running=False
    )

    result = only(run(moto_environment), "aws.ecs.tasks", "hokusai-api-development")

    assert result.status == "fail"
    assert "0 of 1 task(s) running" in result.evidence


def test_a_failed_or_stuck_rollout_fails() -> None:
    now = datetime.now(UTC)

    def service(state: str, started: datetime) -> dict[str, object]:
        deployment = {"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": state}
        return {"deployments": [{**deployment, "createdAt": started}]}

    recent = ecs.judge_deployments("api", service("IN_PROGRESS", now - timedelta(minutes=2)), now)
    stuck = ecs.judge_deployments("api", service("IN_PROGRESS", now - timedelta(hours=2)), now)
    failed = ecs.judge_deployments("api", service("FAILED", now - timedelta(minutes=5)), now)

    assert recent.status == "ok"
    assert stuck.status == "fail"
    assert "stuck" in stuck.evidence
    assert failed.status == "fail"


def test_an_ip_literal_in_an_endpoint_variable_fails(moto_environment: MotoEnvironment) -> None:
    expected = moto_environment.service("api")
    arn = moto_environment.register_task_definition(
        expected, {"MLFLOW_SERVER_URL": "http://10.0.1.88:5000"}
    )
    moto_environment.client("ecs").update_service(
        cluster=moto_environment.cluster, service=expected.ecs_service, taskDefinition=arn
    )

    result = only(run(moto_environment), "aws.taskdef.endpoints", "hokusai-api-development")

    assert result.status == "fail"
    assert "MLFLOW_SERVER_URL=http://10.0.1.88:5000" in result.evidence


def test_a_pinned_fallback_warns_with_its_age_and_reason(moto_environment: MotoEnvironment) -> None:
    expected = moto_environment.service("api")
    url = "http://10.0.1.88:5000"
    arn = moto_environment.register_task_definition(expected, {"MLFLOW_FALLBACK_URLS": url})
    moto_environment.client("ecs").update_service(
        cluster=moto_environment.cluster, service=expected.ecs_service, taskDefinition=arn
    )
    pinned = Pin(url, "Cloud Map outage", datetime.now(UTC).date() - timedelta(days=3))
    moto_environment.expectations = dataclasses.replace(moto_environment.expectations, pin=pinned)

    result = only(run(moto_environment), "aws.taskdef.endpoints", "hokusai-api-development")

    assert result.status == "warn"
    assert "pinned 3 day(s) ago" in result.evidence
    assert "Cloud Map outage" in result.evidence


def test_a_missing_ssm_parameter_fails(moto_environment: MotoEnvironment) -> None:
    moto_environment.client("ssm").delete_parameter(Name=moto_environment.redis_parameter)

    result = only(run(moto_environment), "aws.ssm.parameters", moto_environment.redis_parameter)

    assert result.status == "fail"
    assert "hokusai-api-development" in result.evidence


def test_a_target_group_without_targets_fails(moto_environment: MotoEnvironment) -> None:
    elb = moto_environment.client("elbv2")
    expected = moto_environment.service("api")
    assert expected.target_group is not None
    group = elb.describe_target_groups(Names=[expected.target_group])["TargetGroups"][0]
    targets = elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
    elb.deregister_targets(
        TargetGroupArn=group["TargetGroupArn"],
        Targets=[d["Target"] for d in targets["TargetHealthDescriptions"]],
    )

    result = only(run(moto_environment), "aws.elb.targets", expected.target_group)

    assert result.status == "fail"
    assert "no targets registered" in result.evidence


def test_without_credentials_the_layer_is_skipped_not_crashed(
    moto_environment: MotoEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    results = run(moto_environment)

    assert results
    assert {r.status for r in results} == {"skipped"}
    assert all("no AWS credentials" in r.evidence for r in results)


def test_a_failing_service_brings_its_last_error_lines(moto_environment: MotoEnvironment) -> None:
    expected = moto_environment.service("api")
    moto_environment.log_error(expected, "INFO started")
    moto_environment.log_error(expected, "ERROR cannot resolve mlflow.hokusai-development.local")
    moto_environment.recreate_without_registries("api")

    results = run(moto_environment, {"aws", "logs"})

    logs = only(results, "logs.errors", "hokusai-api-development")
    assert logs.status == "warn"
    assert "ERROR cannot resolve mlflow.hokusai-development.local" in logs.evidence
    assert "INFO started" not in logs.evidence
    assert not [r for r in results if r.id == "logs.errors" and "mlflow" in r.subject]


def test_a_target_group_on_another_port_fails(expectations: Expectations, region: str) -> None:
    [api] = [s for s in expectations.services if s.name == "api"]
    wrong = dataclasses.replace(api, port=8080)  # what a hand-made target group would use
    environment = MotoEnvironment(expectations, region)
    environment.expectations = dataclasses.replace(
        expectations, services=tuple(wrong if s is api else s for s in expectations.services)
    )
    environment.create()
    environment.expectations = expectations

    result = only(run(environment), "aws.elb.targets", "hokusai-development-api")

    assert result.status == "fail"
    assert "forwards to port 8080" in result.evidence
    assert "listens on 8001" in result.evidence
