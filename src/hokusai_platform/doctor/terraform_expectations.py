"""Expectations of an AWS environment, read from its Terraform root.

The platform module's outputs (`namespace`, `cluster_name`, `ecs_services`) name what must
exist; the module calls behind `ecs_services` give each service's port, log group and target
group; the platform's variables give the registry host and the region; terraform.tfvars holds any
fallback pinned with `hokusai endpoint pin`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hokusai_platform.doctor.expectations import Expectations, ServiceExpectation
from hokusai_platform.doctor.terraform_values import Module, Unknown
from hokusai_platform.infra import pin
from hokusai_platform.infra.hcl import HclError

_MODULE_REFERENCE = re.compile(r"^\$\{module\.(\w+)\.")


class ExpectationError(Exception):
    """The environment's Terraform cannot say what to expect; the message says why."""


def find_root(start: Path | None = None) -> Path:
    """`deploy/terraform` in the current directory or a parent, else in this checkout."""
    here = (start or Path.cwd()).resolve()
    checkout = Path(__file__).resolve().parents[3]
    for directory in (here, *here.parents, checkout):
        candidate = directory / "deploy" / "terraform"
        if candidate.is_dir():
            return candidate
    raise ExpectationError("no deploy/terraform here or above; pass --terraform-root")


def environment_dir(root: Path, environment: str) -> Path:
    directory = root / "environments" / environment
    if not directory.is_dir():
        known = sorted(p.name for p in (root / "environments").glob("*") if p.is_dir())
        raise ExpectationError(
            f"no environment {environment!r} in {root / 'environments'} "
            f"(have: {', '.join(known) or 'none'})"
        )
    return directory


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


def load(directory: Path) -> Expectations:
    root = Module(directory)
    try:
        platform = _platform(root)
        services = platform.named("output")["ecs_services"]["value"]
        return Expectations(
            environment=str(platform.variables.get("environment") or directory.name),
            namespace=str(platform.output("namespace")),
            cluster=str(platform.output("cluster_name")),
            services=tuple(_service(platform, name, raw) for name, raw in services.items()),
            region=platform.variables.get("region"),
            registry_host=platform.variables.get("registry_host"),
            pin=pin.read(directory / pin.VARIABLES_FILE),
        )
    except Unknown as exc:
        raise ExpectationError(f"{directory}: cannot evaluate {exc} statically") from None
    except (HclError, pin.PinError) as exc:
        raise ExpectationError(str(exc)) from None
