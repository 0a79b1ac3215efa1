"""deploy/terraform applied for real: the `terraform` binary against moto_server.

One copy of the tree is applied once for the module, as `development`; the tests after it read
what exists, plan again, pin, and finally replay the outage (they run in this order).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from support.log_signals import log_signals
from support.terraform import (
    ENVIRONMENTS,
    REGION,
    REGISTRY_HOST,
    TREE,
    copy_tree,
    create_network_and_certificate,
    environment_process,
    point_at_moto,
    terraform,
)

from hokusai_platform.infra import expectations, hcl, layout

METRICS_PORT = 9464
NO_CHANGES, CHANGES = 0, 2  # plan -detailed-exitcode


@dataclass(frozen=True)
class Applied:
    tree: Path
    environment: layout.Environment
    env: dict[str, str]  # with the environment's TF_DATA_DIR

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


def hokusai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hokusai_platform", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def applied(
    moto_url: str, terraform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Applied]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("AWS_ENDPOINT_URL", moto_url),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            patch.setenv(name, value)
        create_network_and_certificate()
        tree = copy_tree(tmp_path_factory.mktemp("applied") / "terraform")
        development = layout.environment(tree, "development")
        env = environment_process(development, terraform_env)
        point_at_moto(development, moto_url, REGION)
        variables = f"-var-file={development.variables_file}"
        terraform(tree, env, "init", "-input=false", "-no-color")
        terraform(tree, env, "apply", "-auto-approve", "-input=false", "-no-color", variables)
        yield Applied(tree, development, env)


def plan(applied: Applied, out: Path, *options: str) -> tuple[int, dict[str, Any]]:
    """`plan -detailed-exitcode` and its JSON form (`terraform show -json`)."""
    result = terraform(
        applied.tree,
        applied.env,
        "plan",
        "-detailed-exitcode",
        "-input=false",
        "-no-color",
        f"-var-file={applied.environment.variables_file}",
        f"-out={out}",
        *options,
        codes=(NO_CHANGES, CHANGES),
    )
    shown = terraform(applied.tree, applied.env, "show", "-json", str(out))
    return result.returncode, json.loads(shown.stdout)


def test_one_root_and_environments_that_are_only_variables_and_a_backend() -> None:
    declared = {b.labels[0] for b in hcl.load(TREE).in_directory(TREE) if b.kind == "variable"}
    backends = {}

    assert {p.name for p in TREE.glob("*.tf")} == {"main.tf", "variables.tf", "imports.tf"}
    assert (TREE / ".terraform.lock.hcl").is_file()
    assert not [p for p in (TREE / "environments").rglob("*.tf")]
    for name in ENVIRONMENTS:
        environment = layout.environment(TREE, name)
        assert {p.name for p in environment.directory.iterdir()} == {
            "terraform.tfvars",
            "backend.hcl",
        }
        [variables] = hcl.load(environment.variables_file).variables_files
        assert variables.values.keys() <= declared, f"{name} sets undeclared variables"
        assert expectations.load(environment).environment == name
        [backend] = hcl.load(environment.directory / "backend.hcl").backend_files
        backends[name] = backend.values["key"]
    assert len(set(backends.values())) == len(ENVIRONMENTS), "environments share a state"


@pytest.fixture(scope="module")
def initialised(terraform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the committed tree after `terraform init` for every environment, each in its
    own data directory (one after the other: they share the root's lock file)."""
    tree = copy_tree(tmp_path_factory.mktemp("initialised") / "terraform")
    for name in ENVIRONMENTS:
        env = environment_process(layout.environment(tree, name), terraform_env)
        terraform(tree, env, "init", "-backend=false", "-input=false", "-no-color")
    return tree


def test_the_root_is_formatted_and_valid(terraform_env: dict[str, str], initialised: Path) -> None:
    terraform(TREE, terraform_env, "fmt", "-check", "-recursive", "-diff", "-no-color")

    env = environment_process(layout.environment(initialised, "development"), terraform_env)
    output = terraform(initialised, env, "validate", "-no-color").stdout
    assert "The configuration is valid" in output


def test_init_keeps_the_committed_provider_locks_and_lint_still_passes(
    initialised: Path,
) -> None:
    """What the README's plan guard does first: `terraform init`, which reads the committed
    `.terraform.lock.hcl` (and would rewrite it for a provider it had not locked), then lint."""
    lock = Path(".terraform.lock.hcl")
    assert (initialised / lock).read_text() == (TREE / lock).read_text()
    for name in ENVIRONMENTS:
        assert layout.environment(initialised, name).data_dir.is_dir()

    linted = hokusai("infra", "lint", str(initialised))

    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert linted.stdout.rstrip().endswith("15 ok")


def test_development_is_applied_with_every_service_registered(applied: Applied) -> None:
    discovery = applied.client("servicediscovery")
    [namespace] = [
        n
        for n in discovery.list_namespaces()["Namespaces"]
        if n["Name"] == "hokusai-development.local"
    ]
    assert namespace["Type"] == "DNS_PRIVATE"
    services = {
        s["Name"]: discovery.get_service(Id=s["Id"])["Service"]
        for s in discovery.list_services()["Services"]
    }
    for name in ("api", "mlflow"):
        dns = services[name]["DnsConfig"]
        assert dns["NamespaceId"] == namespace["Id"]
        assert dns["RoutingPolicy"] == "MULTIVALUE"
        assert dns["DnsRecords"] == [{"Type": "A", "TTL": 10}]
        assert services[name]["HealthCheckCustomConfig"] == {"FailureThreshold": 1}

    ecs = applied.client("ecs")
    described = ecs.describe_services(
        cluster="hokusai-development",
        services=["hokusai-api-development", "hokusai-mlflow-development"],
    )["services"]
    registries = {s["serviceName"]: s["serviceRegistries"] for s in described}
    assert registries == {
        "hokusai-api-development": [{"registryArn": services["api"]["Arn"]}],
        "hokusai-mlflow-development": [{"registryArn": services["mlflow"]["Arn"]}],
    }
    api = next(s for s in described if s["serviceName"] == "hokusai-api-development")
    assert api["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"

    [container] = ecs.describe_task_definition(taskDefinition=api["taskDefinition"])[
        "taskDefinition"
    ]["containerDefinitions"]
    assert container["name"] == "hokusai-api"
    assert [p["containerPort"] for p in container["portMappings"]] == [8001, METRICS_PORT]
    assert {e["name"]: e["value"] for e in container["environment"]} == {
        "MLFLOW_SERVER_URL": "http://mlflow.hokusai-development.local:5000",
        "MLFLOW_FALLBACK_URLS": "",
        "HOKUSAI_HOST": "0.0.0.0",
        "HOKUSAI_PORT": "8001",
        "HOKUSAI_METRICS_PORT": str(METRICS_PORT),
        "HOKUSAI_DRAIN_SECONDS": "15",
        "HOKUSAI_DRAIN_TIMEOUT": "30",
        "HOKUSAI_ALLOWED_HOSTS": f"{REGISTRY_HOST},api.hokusai-development.local",
        "HOKUSAI_AUDIT_LOG": "stderr",
    }
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert secrets.keys() == {"REDIS_HOST", "HOKUSAI_DATABASE_URL"}
    assert secrets["REDIS_HOST"].endswith(":parameter/hokusai/development/redis/endpoint")

    parameter = applied.client("ssm").get_parameter(Name="/hokusai/development/redis/endpoint")
    assert parameter["Parameter"]["Value"] == "hokusai-development.redis.internal:6379"

    [group] = applied.client("elbv2").describe_target_groups(Names=["hokusai-development-api"])[
        "TargetGroups"
    ]
    assert (group["Port"], group["TargetType"], group["HealthCheckPath"]) == (8001, "ip", "/health")


def test_a_stopping_api_task_drains_before_ecs_kills_it(applied: Applied) -> None:
    """SIGTERM, then HOKUSAI_DRAIN_SECONDS of serving and HOKUSAI_DRAIN_TIMEOUT for what is in
    progress: the container's stopTimeout covers both and 5 s to exit, and the ALB lets
    requests finish as long."""
    ecs, elb = applied.client("ecs"), applied.client("elbv2")
    [container] = ecs.describe_task_definition(taskDefinition="hokusai-api-development")[
        "taskDefinition"
    ]["containerDefinitions"]
    environment = {
        e["name"]: int(e["value"]) for e in container["environment"] if "DRAIN" in e["name"]
    }
    drain, timeout = environment["HOKUSAI_DRAIN_SECONDS"], environment["HOKUSAI_DRAIN_TIMEOUT"]
    [group] = elb.describe_target_groups(Names=["hokusai-development-api"])["TargetGroups"]
    attributes = elb.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])
    delay = {a["Key"]: a["Value"] for a in attributes["Attributes"]}[
        "deregistration_delay.timeout_seconds"
    ]

    assert container["stopTimeout"] == drain + timeout + 5 <= 120
    assert int(delay) == container["stopTimeout"]


def test_the_alb_logs_its_requests_to_the_log_bucket(applied: Applied) -> None:
    elb = applied.client("elbv2")
    [balancer] = elb.describe_load_balancers(Names=["hokusai-development-registry"])[
        "LoadBalancers"
    ]
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])
    logs = {a["Key"]: a["Value"] for a in attributes["Attributes"]}

    assert (logs["access_logs.s3.enabled"], logs["access_logs.s3.bucket"]) == (
        "true",
        "hokusai-development-logs",
    )
    s3 = applied.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket="hokusai-development-logs")["Policy"])
    [alb_writes] = [s for s in policy["Statement"] if s["Sid"] == "AlbAccessLogs"]
    assert alb_writes["Resource"].startswith("arn:aws:s3:::hokusai-development-logs/alb/AWSLogs/")
    logging = s3.get_bucket_logging(Bucket="hokusai-development-mlflow-artifacts")
    assert logging["LoggingEnabled"]["TargetBucket"] == "hokusai-development-logs"


def test_metrics_are_reachable_from_inside_the_vpc_only(applied: Applied) -> None:
    ec2 = applied.client("ec2")
    [group] = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["hokusai-development-api"]}]
    )["SecurityGroups"]
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["hokusai-development"]}])[
        "Vpcs"
    ]
    [metrics] = [r for r in group["IpPermissions"] if r["FromPort"] == METRICS_PORT]

    assert metrics["ToPort"] == METRICS_PORT
    assert [r["CidrIp"] for r in metrics["IpRanges"]] == [vpc["CidrBlock"]]
    assert metrics["UserIdGroupPairs"] == [] and metrics.get("Ipv6Ranges", []) == []


def test_every_task_shares_one_private_encrypted_key_store(applied: Applied) -> None:
    """The api service and the bootstrap task read HOKUSAI_DATABASE_URL from one SecureString;
    it names the RDS instance, which only the API's security group reaches, and its password
    is nowhere in Terraform's state."""
    ecs = applied.client("ecs")
    url_parameter = applied.client("ssm").get_parameter(
        Name="/hokusai/development/keys/database-url", WithDecryption=True
    )["Parameter"]
    [instance] = applied.client("rds").describe_db_instances(
        DBInstanceIdentifier="hokusai-development"
    )["DBInstances"]
    families = ("hokusai-api-development", "hokusai-api-development-bootstrap-admin")
    containers = {
        family: ecs.describe_task_definition(taskDefinition=family)["taskDefinition"][
            "containerDefinitions"
        ][0]
        for family in families
    }
    for container in containers.values():
        secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
        assert secrets["HOKUSAI_DATABASE_URL"] == url_parameter["ARN"]

    url = urlsplit(url_parameter["Value"])
    assert url_parameter["Type"] == "SecureString"
    assert (url.scheme, url.username, url.path) == ("postgresql", "hokusai", "/hokusai")
    assert (url.hostname, url.port) == (instance["Endpoint"]["Address"], 5432)
    assert url.password and len(url.password) == 40
    assert url.password not in (applied.tree / "terraform.tfstate").read_text()
    assert instance["StorageEncrypted"] and not instance["PubliclyAccessible"]

    ec2 = applied.client("ec2")
    [api_group] = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["hokusai-development-api"]}]
    )["SecurityGroups"]
    [database_group] = ec2.describe_security_groups(
        GroupIds=[g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]]
    )["SecurityGroups"]
    [ingress] = database_group["IpPermissions"]
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpRanges"]) == (5432, 5432, [])
    assert [pair["GroupId"] for pair in ingress["UserIdGroupPairs"]] == [api_group["GroupId"]]


def test_the_first_admin_key_is_one_command_from_the_outputs(applied: Applied) -> None:
    outputs = json.loads(terraform(applied.tree, applied.env, "output", "-json").stdout)
    command = outputs["bootstrap_admin_key"]["value"]
    [container] = applied.client("ecs").describe_task_definition(
        taskDefinition="hokusai-api-development-bootstrap-admin"
    )["taskDefinition"]["containerDefinitions"]

    assert [*container["entryPoint"], *container["command"]] == [
        "hokusai", "keys", "create", "--name", "bootstrap-admin", "--scope", "admin",
        "--expires", "1d",
    ]  # fmt: skip
    assert not container.get("healthCheck") and not container.get("portMappings")
    assert "aws ecs run-task" in command
    assert "--task-definition hokusai-api-development-bootstrap-admin" in command
    assert "--log-group-name /ecs/hokusai-development/api" in command
    subnets = applied.client("ec2").describe_subnets(
        Filters=[{"Name": "tag:tier", "Values": ["private"]}]
    )["Subnets"]
    [named] = re.findall(r"subnets=\[([^\]]*)\]", command)
    assert sorted(named.split(",")) == sorted(s["SubnetId"] for s in subnets)


def test_every_alarm_notifies_the_topic_and_log_signals_come_from_the_api_logs(
    applied: Applied,
) -> None:
    outputs = json.loads(terraform(applied.tree, applied.env, "output", "-json").stdout)
    topic = outputs["alarm_topic_arn"]["value"]
    alarms = {
        a["AlarmName"].removeprefix("hokusai-development-"): a
        for a in applied.client("cloudwatch").describe_alarms(
            AlarmNamePrefix="hokusai-development-"
        )["MetricAlarms"]
    }
    filters = applied.client("logs").describe_metric_filters(
        logGroupName="/ecs/hokusai-development/api"
    )["metricFilters"]
    published = {
        (t["metricNamespace"], t["metricName"]) for f in filters for t in f["metricTransformations"]
    }

    assert applied.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert set(alarms) == {
        "alb-5xx-rate", "alb-unhealthy-targets", "alb-response-time",
        "api-tasks-below-desired", "mlflow-tasks-below-desired",
        "discovery-fallback", "discovery-ejections", "rate-limit-fail-open",
    }  # fmt: skip
    assert all((a["AlarmActions"], a["OKActions"]) == ([topic], [topic]) for a in alarms.values())
    assert {f["filterPattern"] for f in filters} == {s.pattern for s in log_signals()}
    for name in ("discovery-fallback", "discovery-ejections", "rate-limit-fail-open"):
        assert (alarms[name]["Namespace"], alarms[name]["MetricName"]) in published
    # The outage (the name gone, traffic on the fallback) is an alarm within a minute.
    fallback = alarms["discovery-fallback"]
    assert (fallback["MetricName"], fallback["Statistic"]) == ("DiscoveryFallbackActive", "Maximum")
    assert (fallback["Period"], fallback["EvaluationPeriods"], fallback["DatapointsToAlarm"]) == (
        60,
        1,
        1,
    )
    assert (fallback["ComparisonOperator"], fallback["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
    )
    below_desired = alarms["api-tasks-below-desired"]["Metrics"]
    dimensions = [
        {d["Name"]: d["Value"] for d in q["MetricStat"]["Metric"]["Dimensions"]}
        for q in below_desired
        if "MetricStat" in q
    ]
    assert dimensions == 2 * [
        {"ClusterName": "hokusai-development", "ServiceName": "hokusai-api-development"}
    ]


def changed_attributes(shown: dict[str, Any]) -> dict[str, dict[str, tuple[Any, Any]]]:
    """address => {attribute: (before, after)} for every resource the plan would change."""
    changes = {}
    for resource in shown["resource_changes"]:
        change = resource["change"]
        if change["actions"] == ["no-op"]:
            continue
        before, after = change["before"] or {}, change["after"] or {}
        changes[resource["address"]] = {
            key: (before.get(key), after.get(key))
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key) and key not in change["after_unknown"]
        }
    return changes


def test_a_second_plan_changes_nothing_but_what_moto_does_not_store(
    applied: Applied, tmp_path: Path
) -> None:
    """moto 5.2's CreateService drops healthCheckGracePeriodSeconds and
    availabilityZoneRebalancing (only UpdateService keeps them), so the provider reads back
    0 and "": those are the whole difference, and one more apply (an UpdateService) converges
    to a plan with no changes at all."""
    code, shown = plan(applied, tmp_path / "tfplan")

    assert code == CHANGES
    assert changed_attributes(shown) == {
        "module.platform.module.api.aws_ecs_service.this": {
            "availability_zone_rebalancing": ("", "DISABLED"),
            "health_check_grace_period_seconds": (0, 120),
        },
        "module.platform.module.mlflow.aws_ecs_service.this": {
            "availability_zone_rebalancing": ("", "DISABLED"),
        },
    }

    terraform(applied.tree, applied.env, "apply", "-input=false", "-no-color", f"{tmp_path}/tfplan")
    code, shown = plan(applied, tmp_path / "tfplan")

    assert (code, changed_attributes(shown)) == (NO_CHANGES, {})


def test_a_pin_reaches_the_api_task_definition_and_unpin_restores_the_file(
    applied: Applied, tmp_path: Path
) -> None:
    variables = applied.environment.variables_file
    before = variables.read_bytes()
    root_option = f"--terraform-root={applied.tree}"

    pinned = hokusai(
        "endpoint",
        "pin",
        "mlflow",
        "http://10.0.1.88:5000",
        "--env",
        "development",
        "--reason",
        "Cloud Map lost the API's registration",
        root_option,
    )
    assert pinned.returncode == 0, pinned.stderr
    assert (
        "TF_DATA_DIR=environments/development/.terraform "
        f"terraform -chdir={applied.tree} apply -var-file=environments/development/terraform.tfvars"
    ) in pinned.stdout

    code, shown = plan(applied, tmp_path / "tfplan")
    [task] = [
        r
        for r in shown["resource_changes"]
        if r["address"] == "module.platform.module.api.aws_ecs_task_definition.this"
    ]
    [container] = json.loads(task["change"]["after"]["container_definitions"])
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert code == CHANGES
    assert environment["MLFLOW_FALLBACK_URLS"] == "http://10.0.1.88:5000"
    assert environment["MLFLOW_SERVER_URL"] == "http://mlflow.hokusai-development.local:5000"

    unpinned = hokusai("endpoint", "unpin", "mlflow", "--env", "development", root_option)
    assert unpinned.returncode == 0, unpinned.stderr
    assert variables.read_bytes() == before


def test_adopting_live_resources_is_data_in_the_adopt_variable(
    applied: Applied, tmp_path: Path
) -> None:
    """Phase 1 of the recommendations: resources that exist but are not in the state are
    imported by listing their ids, not created twice and not imported by hand."""
    state = applied.tree / "terraform.tfstate"
    saved = state.read_bytes()
    namespace = "module.platform.module.discovery.aws_service_discovery_private_dns_namespace.this"
    discovery_api = 'module.platform.module.discovery.aws_service_discovery_service.this["api"]'
    ecs_api = "module.platform.module.api.aws_ecs_service.this"
    discovery = applied.client("servicediscovery")
    [namespace_id] = [
        n["Id"]
        for n in discovery.list_namespaces()["Namespaces"]
        if n["Name"] == "hokusai-development.local"
    ]
    [api_id] = [s["Id"] for s in discovery.list_services()["Services"] if s["Name"] == "api"]
    adopt = {
        "namespace": namespace_id,
        "discovery/api": api_id,
        "ecs/api": "hokusai-development/hokusai-api-development",
    }
    try:
        terraform(applied.tree, applied.env, "state", "rm", namespace, discovery_api, ecs_api)
        _, shown = plan(applied, tmp_path / "tfplan", f"-var=adopt={json.dumps(adopt)}")
    finally:
        state.write_bytes(saved)

    changes = {r["address"]: r["change"] for r in shown["resource_changes"]}
    imported = {address for address, change in changes.items() if change.get("importing")}
    assert imported == {namespace, discovery_api, ecs_api}
    assert [a for a, c in changes.items() if {"create", "delete"} & set(c["actions"])] == []


def test_drift_replay_a_service_recreated_without_registries_is_caught(
    applied: Applied, tmp_path: Path
) -> None:
    """The outage: the API service deleted and recreated by hand with `serviceRegistries: []`."""
    ecs = applied.client("ecs")
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

    code, shown = plan(applied, tmp_path / "tfplan")
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(json.dumps(shown))
    # The committed tree: the applied copy has the test's local-backend override.
    linted = hokusai("infra", "lint", str(TREE), "--plan", str(plan_json))

    assert code == CHANGES
    assert linted.returncode == 1, linted.stdout + linted.stderr
    [failure] = [line for line in linted.stdout.splitlines() if line.lstrip().startswith("FAIL")]
    assert "plan.service-registries" in failure
    assert f"{name} (module.platform.module.api.aws_ecs_service.this) lost its service" in failure
