"""What a healthy environment looks like, read from where it is declared.

For an AWS environment that is its Terraform root (`deploy/terraform/environments/<env>/`);
for the local stack it is the `stack.json` that `hokusai up` writes. There is no third list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hokusai_platform.infra.pin import Pin


@dataclass(frozen=True)
class ServiceExpectation:
    """One platform service: its Cloud Map name and the ECS service that must register there."""

    name: str  # the Cloud Map service, so the discovery name is `<name>.<namespace>`
    ecs_service: str
    port: int
    log_group: str | None = None
    target_group: str | None = None


@dataclass(frozen=True)
class Expectations:
    environment: str
    namespace: str
    services: tuple[ServiceExpectation, ...]
    region: str | None = None
    cluster: str | None = None
    registry_host: str | None = None
    # The fallback `hokusai endpoint pin` recorded in the environment's variables, if any.
    pin: Pin | None = None

    def discovery_name(self, service: ServiceExpectation) -> str:
        return f"{service.name}.{self.namespace}"

    @classmethod
    def for_local_stack(cls, namespace: str, ports: Mapping[str, int]) -> Expectations:
        """What `hokusai up` runs: the same discovery names, no AWS behind them."""
        return cls(
            environment="local",
            namespace=namespace,
            services=(
                ServiceExpectation("api", "api", ports["gateway"]),
                ServiceExpectation("mlflow", "mlflow", ports["mlflow"]),
            ),
        )
