"""An environment in moto_server, created with boto3 the way Terraform would create it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from hokusai_platform.infra import layout
from hokusai_platform.infra.expectations import Expectations, ServiceExpectation
from support.terraform import TREE

# The committed tree, as `hokusai doctor --env development` reads it from this checkout.
DEVELOPMENT = layout.environment(TREE, "development")
TAGS = [{"key": "managed-by", "value": "terraform"}]
CAPITALISED_TAGS = [{"Key": "managed-by", "Value": "terraform"}]


@dataclass
class MotoEnvironment:
    """The AWS side of one environment, created with boto3 as Terraform would create it."""

    expectations: Expectations
    region: str

    def client(self, service: str) -> Any:
        config = Config(inject_host_prefix=False)
        return boto3.client(service, region_name=self.region, config=config)

    @property
    def cluster(self) -> str:
        assert self.expectations.cluster is not None
        return self.expectations.cluster

    def service(self, name: str) -> ServiceExpectation:
        return next(found for found in self.expectations.services if found.name == name)

    def create(self) -> MotoEnvironment:
        """Everything healthy: tasks running, instances registered, targets healthy."""
        vpc = self.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        discovery = self.client("servicediscovery")
        discovery.create_private_dns_namespace(
            Name=self.expectations.namespace, Vpc=vpc, Tags=CAPITALISED_TAGS
        )
        self.namespace_id = discovery.list_namespaces()["Namespaces"][0]["Id"]
        self.client("ecs").create_cluster(clusterName=self.cluster, tags=TAGS)
        self.client("ssm").put_parameter(
            Name=self.redis_parameter, Value="redis.internal:6379", Type="String"
        )
        for index, expected in enumerate(self.expectations.services):
            registry = discovery.create_service(
                Name=expected.name,
                NamespaceId=self.namespace_id,
                DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
                HealthCheckCustomConfig={"FailureThreshold": 1},
                Tags=CAPITALISED_TAGS,
            )["Service"]
            self.register(expected.name, f"10.0.1.{10 + index}")
            self.client("logs").create_log_group(logGroupName=self.log_group(expected))
            self.create_service(expected, registries=[{"registryArn": registry["Arn"]}])
            if expected.target_group:
                self.create_target_group(expected, vpc, f"10.0.1.{10 + index}")
        return self

    @property
    def redis_parameter(self) -> str:
        return f"/hokusai/{self.expectations.environment}/redis/endpoint"

    def log_group(self, expected: ServiceExpectation) -> str:
        return expected.log_group or f"/ecs/{expected.ecs_service}"

    def register_task_definition(
        self, expected: ServiceExpectation, environment: dict[str, str] | None = None
    ) -> str:
        mlflow = f"http://mlflow.{self.expectations.namespace}:5000"
        variables = {"MLFLOW_SERVER_URL": mlflow, "MLFLOW_FALLBACK_URLS": ""}
        variables.update(environment or {})
        answer = self.client("ecs").register_task_definition(
            family=expected.ecs_service,
            containerDefinitions=[
                {
                    "name": f"hokusai-{expected.name}",
                    "image": "hokusai/registry:latest",
                    "memory": 512,
                    "portMappings": [{"containerPort": expected.port}],
                    "environment": [{"name": k, "value": v} for k, v in variables.items()],
                    "secrets": [{"name": "REDIS_HOST", "valueFrom": self.redis_parameter}],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": self.log_group(expected),
                            "awslogs-region": self.region,
                            "awslogs-stream-prefix": expected.name,
                        },
                    },
                }
            ],
            tags=TAGS,
        )
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    def create_service(
        self,
        expected: ServiceExpectation,
        *,
        registries: list[dict[str, Any]],
        tags: list[dict[str, str]] = TAGS,
        running: bool = True,
    ) -> None:
        ecs = self.client("ecs")
        ecs.create_service(
            cluster=self.cluster,
            serviceName=expected.ecs_service,
            taskDefinition=self.register_task_definition(expected),
            desiredCount=1,
            serviceRegistries=registries,
            tags=tags,
        )
        if running:
            # moto starts no tasks; an update to the same desiredCount is how moto reports
            # them running. Real ECS would show the same once the scheduler converged.
            ecs.update_service(cluster=self.cluster, service=expected.ecs_service, desiredCount=1)

    def create_target_group(self, expected: ServiceExpectation, vpc: str, address: str) -> None:
        assert expected.target_group is not None
        elb = self.client("elbv2")
        group = elb.create_target_group(
            Name=expected.target_group,
            Protocol="HTTP",
            Port=expected.port,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health/ready",
            Tags=CAPITALISED_TAGS,
        )["TargetGroups"][0]
        elb.register_targets(
            TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": address, "Port": expected.port}]
        )

    def cloud_map_service_id(self, name: str) -> str:
        services = self.client("servicediscovery").list_services()["Services"]
        return str(next(found["Id"] for found in services if found["Name"] == name))

    def register(self, name: str, address: str, instance_id: str | None = None) -> None:
        self.client("servicediscovery").register_instance(
            ServiceId=self.cloud_map_service_id(name),
            InstanceId=instance_id or f"task-{address}",
            Attributes={"AWS_INSTANCE_IPV4": address},
        )

    def addresses(self, name: str) -> list[str]:
        instances = self.client("servicediscovery").list_instances(
            ServiceId=self.cloud_map_service_id(name)
        )["Instances"]
        return [instance["Attributes"]["AWS_INSTANCE_IPV4"] for instance in instances]

    def deregister_all(self, name: str) -> None:
        discovery = self.client("servicediscovery")
        service_id = self.cloud_map_service_id(name)
        for instance in discovery.list_instances(ServiceId=service_id)["Instances"]:
            discovery.deregister_instance(ServiceId=service_id, InstanceId=instance["Id"])

    def recreate_without_registries(self, name: str) -> None:
        """The outage: the service deleted and created again by CLI, `serviceRegistries: []`."""
        expected = self.service(name)
        ecs = self.client("ecs")
        ecs.delete_service(cluster=self.cluster, service=expected.ecs_service, force=True)
        self.create_service(expected, registries=[], tags=[])

    def log_error(self, expected: ServiceExpectation, message: str) -> None:
        logs = self.client("logs")
        stream = f"{expected.name}/hokusai-{expected.name}/{time.monotonic_ns()}"
        logs.create_log_stream(logGroupName=self.log_group(expected), logStreamName=stream)
        logs.put_log_events(
            logGroupName=self.log_group(expected),
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
        )
