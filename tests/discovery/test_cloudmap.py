"""The Cloud Map source against moto_server: what DiscoverInstances says is what `pick` gives."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from mlflow import __version__ as mlflow_version
from support.processes import start_gateway

from hokusai_platform.discovery.cluster import Cluster
from hokusai_platform.discovery.policy import DiscoveryPolicy
from hokusai_platform.discovery.target import CloudMapTarget
from hokusai_platform.http.client import Client

POLICY = DiscoveryPolicy(cloudmap_ttl=0.3, stale_seconds=0, negative_ttl=0.3, probe_interval=5)


def cloud_map() -> Any:
    return boto3.client("servicediscovery", config=Config(inject_host_prefix=False))


def create_service(client: Any) -> tuple[str, str]:
    """A fresh namespace (isolated from other tests) with an `mlflow` service; its id."""
    namespace = f"ns-{uuid.uuid4().hex[:8]}.local"
    operation = client.create_http_namespace(Name=namespace)["OperationId"]
    namespace_id = client.get_operation(OperationId=operation)["Operation"]["Targets"]["NAMESPACE"]
    service = client.create_service(
        Name="mlflow",
        NamespaceId=namespace_id,
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )
    return namespace, service["Service"]["Id"]


def register(client: Any, service_id: str, instance_id: str, ip: str) -> None:
    client.register_instance(
        ServiceId=service_id,
        InstanceId=instance_id,
        Attributes={"AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": "5000"},
    )


def set_health(client: Any, service_id: str, instance_id: str, status: str) -> None:
    client.update_instance_custom_health_status(
        ServiceId=service_id, InstanceId=instance_id, Status=status
    )


async def seen(cluster: Cluster, expected: set[str], within: float = 5) -> None:
    deadline = time.monotonic() + within
    while True:
        picked = {e.authority for e in (cluster.pick() for _ in range(10)) if e is not None}
        if picked == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"picked {picked}, expected {expected}")
        await asyncio.sleep(0.05)


def test_register_health_and_deregister_are_seen(aws_env: str) -> None:
    client = cloud_map()
    namespace, service_id = create_service(client)
    register(client, service_id, "one", "10.0.1.88")

    async def scenario() -> None:
        async with Client(connect_timeout=1, read_timeout=1) as http_client:
            cluster = Cluster("mlflow", CloudMapTarget(namespace, "mlflow"), policy=POLICY)
            await cluster.start(http_client)
            assert cluster.pick().source == "cloudmap"
            await seen(cluster, {"10.0.1.88:5000"})

            await asyncio.to_thread(register, client, service_id, "two", "10.0.1.89")
            await seen(cluster, {"10.0.1.88:5000", "10.0.1.89:5000"})

            await asyncio.to_thread(set_health, client, service_id, "one", "UNHEALTHY")
            await seen(cluster, {"10.0.1.89:5000"})

            await asyncio.to_thread(set_health, client, service_id, "two", "UNHEALTHY")
            await seen(cluster, {"10.0.1.88:5000", "10.0.1.89:5000"})  # fail open

            for instance in ("one", "two"):
                await asyncio.to_thread(
                    client.deregister_instance, ServiceId=service_id, InstanceId=instance
                )
            await seen(cluster, set())
            snapshot = cluster.snapshot()
            await cluster.close()
        assert snapshot["status"] == "unhealthy"
        assert "has no registered instances" in str(snapshot["last_error"])

    asyncio.run(scenario())


def test_an_unknown_namespace_is_reported_by_name(aws_env: str) -> None:
    async def scenario() -> dict[str, object]:
        async with Client(connect_timeout=1, read_timeout=1) as http_client:
            cluster = Cluster("mlflow", CloudMapTarget("absent.local", "mlflow"), policy=POLICY)
            await cluster.start(http_client)
            assert cluster.pick() is None
            await cluster.close()
            return cluster.snapshot()

    snapshot = asyncio.run(scenario())
    assert "cloudmap://absent.local/mlflow" in str(snapshot["last_error"])
    assert "NotFound" in str(snapshot["last_error"])


def test_the_gateway_reaches_mlflow_through_a_cloud_map_service(
    aws_env: str, mlflow_url: str, tmp_path: Path
) -> None:
    client = cloud_map()
    namespace, service_id = create_service(client)
    mlflow = urlsplit(mlflow_url)
    client.register_instance(
        ServiceId=service_id,
        InstanceId="mlflow-1",
        Attributes={"AWS_INSTANCE_IPV4": mlflow.hostname, "AWS_INSTANCE_PORT": str(mlflow.port)},
    )
    gateway, url = start_gateway(
        tmp_path / "gateway.log", {"MLFLOW_SERVER_URL": f"cloudmap://{namespace}/mlflow"}
    )
    try:
        with urllib.request.urlopen(f"{url}/api/mlflow/version", timeout=10) as answer:
            assert answer.read().decode() == mlflow_version
        with urllib.request.urlopen(f"{url}/health", timeout=10) as answer:
            report = json.loads(answer.read())
        endpoints = report["dependencies"]["mlflow"]["discovery"]["endpoints"]
        assert [(e["address"], e["source"]) for e in endpoints] == [(mlflow.netloc, "cloudmap")]
    finally:
        gateway.stop()
