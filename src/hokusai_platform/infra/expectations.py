"""What a healthy environment looks like, read from its Terraform.

The platform module's outputs (`namespace`, `cluster_name`, `ecs_services`) name what must
exist; the module calls behind `ecs_services` give each service's port, log group and target
group; the platform's variables give the registry host and the region; the environment's
terraform.tfvars holds any fallback pinned with `hokusai endpoint pin`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hokusai_platform.infra import pin
from hokusai_platform.infra.hcl import HclError
from hokusai_platform.infra.layout import Environment
from hokusai_platform.infra.values import Module, Unknown

_MODULE_REFERENCE = re.compile(r"^\$\{module\.(\w+)\.")


class ExpectationError(Exception):
    """The environment's Terraform cannot say what to expect; the message says why."""


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
    pin: pin.Pin | None = None

    def discovery_name(self, service: ServiceExpectation) -> str:
        return f"{service.name}.{self.namespace}"


def _platform(module: Module) -> Module:
    """The module instance that declares the platform's `ecs_services` output."""
    if isinstance(module.named("output").get("ecs_services", {}).get("value"), dict):
        return module
    for name in module.named("module"):
        try:
            return _platform(module.module(name))
        except (Unknown, ExpectationError):
            continue
    raise ExpectationError(f"{module.directory} declares no platform (an `ecs_services` output)")


def _service(platform: Module, name: str, raw: Any) -> ServiceExpectation:
    match = _MODULE_REFERENCE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise Unknown(f"ecs_services[{name}] is not a module output")
    call = platform.named("module")[match.group(1)]
    service = platform.module(match.group(1))
    target_group = None
    if isinstance(call.get("load_balancer"), dict):
        target_group = platform.referenced(call["load_balancer"]["target_group_arn"], "name")
    return ServiceExpectation(
        name=name,
        ecs_service=str(platform.evaluate(raw)),
        port=int(service.variables["port"]),
        log_group=service.variables.get("log_group_name"),
        target_group=target_group,
    )


def load(environment: Environment) -> Expectations:
    root = Module(environment.root, variables_files=(environment.variables_file,))
    try:
        platform = _platform(root)
        services = platform.named("output")["ecs_services"]["value"]
        return Expectations(
            environment=str(platform.variables.get("environment") or environment.name),
            namespace=str(platform.output("namespace")),
            cluster=str(platform.output("cluster_name")),
            services=tuple(_service(platform, name, raw) for name, raw in services.items()),
            region=platform.variables.get("region"),
            registry_host=platform.variables.get("registry_host"),
            pin=pin.read(environment.variables_file),
        )
    except Unknown as exc:
        raise ExpectationError(
            f"{environment.directory}: cannot evaluate {exc} statically"
        ) from None
    except (HclError, pin.PinError) as exc:
        raise ExpectationError(str(exc)) from None
