"""`hokusai infra lint`: rules over the Terraform tree that refuse the outage before it is applied.

Each rule is a function from the configuration to `CheckResult`s: one per finding, located at
`file:line`, with a hint; a rule that finds nothing returns one `ok` saying what it checked.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import date
from functools import partial
from typing import Any

from hokusai_platform.checks import CheckResult
from hokusai_platform.infra import pin
from hokusai_platform.infra.hcl import AttributesFile, Block, Configuration, literal, nested
from hokusai_platform.infra.production_rules import RULES, Rule

REGISTRIES = "ecs.service-registries"
GRACE_PERIOD = "ecs.grace-period"
ENDPOINT_IP = "endpoint.ip-literal"
PINNED = "endpoint.pinned"
DISCOVERY_TTL = "discovery.ttl"
SSM_DECLARED = "ssm.declared"
BACKEND_LOCKING = "backend.locking"

# Long enough not to hammer Cloud Map, short enough that a replaced task is found quickly.
MIN_TTL, MAX_TTL = 5, 60

# Names of variables and arguments that say where another service is.
_ENDPOINT_NAME = re.compile(r"(?i)(?:^|_)(?:url|urls|uri|host|endpoint|endpoints|address)$")
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_NAME_VALUE = re.compile(r'"?name"?\s*[=:]\s*"(\w+)"\s*,?\s*"?value"?\s*[=:]\s*"([^"]*)"')
_VALUE_FROM = re.compile(r'"?valueFrom"?\s*[=:]\s*("[^"]*"|[\w.\[\]"]+)')
_REFERENCE = re.compile(r"^\$\{(data\.)?aws_ssm_parameter\.(\w+)(?:\[[^\]]*\])?\.(?:arn|name)\}$")
_LOCAL = re.compile(r"^\$\{local\.([\w.]+)\}$")
_INTERPOLATION = re.compile(r"\$\{[^}]*\}")


def dynamic(body: dict[str, Any], name: str) -> bool:
    return any(f'"{name}"' in item or name in item for item in nested(body, "dynamic"))


def _ok(rule: str, configuration: Configuration, evidence: str) -> list[CheckResult]:
    return [CheckResult.ok(rule, str(configuration.root), evidence)]


def service_registries(configuration: Configuration) -> list[CheckResult]:
    services = list(configuration.resources("aws_ecs_service"))
    findings = []
    for service in services:
        connect = nested(service.body, "service_connect_configuration")
        if nested(service.body, "service_registries") or any(
            c.get("enabled") is not False for c in connect
        ):
            continue
        if dynamic(service.body, "service_registries"):
            findings.append(
                CheckResult.warn(
                    REGISTRIES,
                    service.location("service_registries"),
                    f"{service.address}: registration is conditional (a dynamic block)",
                    hint="make service_registries a static block: a service must always register",
                )
            )
            continue
        findings.append(
            CheckResult.fail(
                REGISTRIES,
                service.location(),
                f"{service.address} registers in no Cloud Map service (serviceRegistries: [])",
                hint="add `service_registries { registry_arn = <Cloud Map service>.arn }`, "
                "or use modules/ecs-service, which requires it",
            )
        )
    return findings or _ok(
        REGISTRIES, configuration, f"{len(services)} ECS service(s) register in Cloud Map"
    )


def grace_period(configuration: Configuration) -> list[CheckResult]:
    findings = []
    balanced = [
        s
        for s in configuration.resources("aws_ecs_service")
        if nested(s.body, "load_balancer") or dynamic(s.body, "load_balancer")
    ]
    for service in balanced:
        value = service.body.get("health_check_grace_period_seconds")
        if value is None or value == 0:
            findings.append(
                CheckResult.fail(
                    GRACE_PERIOD,
                    service.location("health_check_grace_period_seconds"),
                    f"{service.address} is behind a load balancer with no health-check grace "
                    "period: tasks are killed while they start",
                    hint="set health_check_grace_period_seconds = 120",
                )
            )
    return findings or _ok(
        GRACE_PERIOD, configuration, f"{len(balanced)} load-balanced service(s) have a grace period"
    )


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(name, string) pairs under `value`: map keys, and `{name = ..., value = ...}` objects."""
    if isinstance(value, dict):
        name = literal(value.get("name"))
        if name is not None and isinstance(value.get("value"), str):
            yield name, value["value"]
        for child_key, child in value.items():
            yield from _strings(child, child_key.strip('"'))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, str):
        yield key, value
        for name, text in _NAME_VALUE.findall(value):  # inside jsonencode() or heredoc JSON
            yield name, text


def _addresses(text: str) -> list[str]:
    found = []
    for candidate in _IPV4.findall(_INTERPOLATION.sub("", text) if "${" in text else text):
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        # 0.0.0.0 is a listen address and 127.0.0.1 a sidecar: neither names another service.
        if not (address.is_unspecified or address.is_loopback):
            found.append(candidate)
    return found


def endpoint_ip_literals(configuration: Configuration) -> list[CheckResult]:
    sources: list[tuple[str, Any, Block | AttributesFile]] = [
        (block.address, block.body, block) for block in configuration.blocks
    ]
    sources += [
        (name, value, file)
        for file in configuration.variables_files
        for name, value in file.values.items()
        if name != pin.PIN_VARIABLE  # reported by `pinned`, as a warning
    ]
    findings = []
    for subject, body, source in sources:
        for name, text in _strings(body, subject if isinstance(source, AttributesFile) else ""):
            if not _ENDPOINT_NAME.search(name):
                continue
            for address in _addresses(text):
                where = (
                    source.location(re.escape(address))
                    if isinstance(source, Block)
                    else source.location(name)
                )
                findings.append(
                    CheckResult.fail(
                        ENDPOINT_IP,
                        where,
                        f"{subject}: {name} hard-codes {address}, which breaks when the task moves",
                        hint="use the discovery name (http://mlflow.<namespace>:5000); for an "
                        "emergency use `hokusai endpoint pin`, which records why and since when",
                    )
                )
    return findings or _ok(ENDPOINT_IP, configuration, "endpoints are names, not IP addresses")


def pinned(configuration: Configuration, today: date) -> list[CheckResult]:
    findings = []
    for file in configuration.variables_files:
        if pin.PIN_VARIABLE not in file.values:
            continue
        try:
            record = pin.read(file.path)
        except pin.PinError as exc:
            findings.append(CheckResult.fail(PINNED, file.location(pin.PIN_VARIABLE), str(exc)))
            continue
        assert record is not None
        age = (today - record.since).days
        findings.append(
            CheckResult.warn(
                PINNED,
                file.location(pin.PIN_VARIABLE),
                f"mlflow pinned to {record.url} for {age} day(s) (since {record.since}): "
                f"{record.reason}",
                hint="once discovery answers again: "
                f"hokusai endpoint unpin mlflow --env {file.path.parent.name}",
            )
        )
    return findings or _ok(PINNED, configuration, "no endpoint is pinned")


def _variable_default(configuration: Configuration, block: Block, name: str) -> Any:
    for variable in configuration.in_directory(block.path.parent):
        if variable.kind == "variable" and variable.labels == (name,):
            return variable.body.get("default")
    return None


def discovery_ttl(configuration: Configuration) -> list[CheckResult]:
    findings = []
    services = list(configuration.resources("aws_service_discovery_service"))
    for service in services:
        for dns_config in nested(service.body, "dns_config"):
            for record in nested(dns_config, "dns_records"):
                ttl = record.get("ttl")
                if isinstance(ttl, str) and (match := re.fullmatch(r"\$\{var\.(\w+)\}", ttl)):
                    ttl = _variable_default(configuration, service, match.group(1))
                if isinstance(ttl, int) and not MIN_TTL <= ttl <= MAX_TTL:
                    findings.append(
                        CheckResult.fail(
                            DISCOVERY_TTL,
                            service.location(r"\bttl\b"),
                            f"{service.address}: DNS TTL {ttl}s is outside {MIN_TTL}-{MAX_TTL}s",
                            hint="ttl = 10: clients see a replaced task within seconds",
                        )
                    )
    return findings or _ok(
        DISCOVERY_TTL, configuration, f"{len(services)} Cloud Map service(s) within bounds"
    )


def _parameter_name(configuration: Configuration, block: Block) -> re.Pattern[str] | None:
    """A pattern for the parameter name a declaration gives (templates match any segment)."""
    raw = block.body.get("name")
    if isinstance(raw, str) and (match := _LOCAL.match(raw)):
        value: Any = None
        path = match.group(1).split(".")
        for scope in configuration.in_directory(block.path.parent):
            if scope.kind == "locals" and path[0] in scope.body:
                value = scope.body[path[0]]
        for key in path[1:]:
            value = value.get(key) if isinstance(value, dict) else None
        raw = value
    if not (isinstance(raw, str) and raw.startswith('"')):
        return None
    parts = _INTERPOLATION.split(raw[1:-1])
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


def _value_froms(block: Block) -> Iterator[str]:
    for key, text in _strings(block.body):
        if key == "valueFrom":
            yield text
        yield from _VALUE_FROM.findall(text)
    if block.kind == "module" and isinstance(block.body.get("secrets"), dict):
        yield from (v for v in block.body["secrets"].values() if isinstance(v, str))


def ssm_declared(configuration: Configuration) -> list[CheckResult]:
    declarations = [
        *configuration.resources("aws_ssm_parameter"),
        *configuration.resources("aws_ssm_parameter", kind="data"),
    ]
    patterns = [p for d in declarations if (p := _parameter_name(configuration, d))]
    findings = []
    checked = 0
    for block in configuration.blocks:
        for reference in set(_value_froms(block)):
            if match := _REFERENCE.match(reference):
                checked += 1
                kind = "data" if match.group(1) else "resource"
                if not any(
                    d.kind == kind and d.labels[1:] == (match.group(2),)
                    for d in configuration.in_directory(block.path.parent)
                    if d.type == "aws_ssm_parameter"
                ):
                    findings.append(_undeclared(block, f"aws_ssm_parameter.{match.group(2)}"))
                continue
            name = literal(reference)
            if name is None:
                continue  # passed through a variable: checked where the value is written
            checked += 1
            name = name.split(":parameter", 1)[-1]
            if not any(p.fullmatch(name) for p in patterns):
                findings.append(_undeclared(block, name))
    return findings or _ok(
        SSM_DECLARED, configuration, f"{checked} valueFrom reference(s) are declared"
    )


def _undeclared(block: Block, name: str) -> CheckResult:
    return CheckResult.fail(
        SSM_DECLARED,
        block.location(re.escape(name)),
        f"{block.address}: valueFrom {name} names an SSM parameter declared nowhere "
        "here; the task will fail to start if it is missing",
        hint='declare it as a `resource` or `data "aws_ssm_parameter"` and reference its .arn',
    )


def _locks(settings: dict[str, Any]) -> bool:
    return settings.get("use_lockfile") is True or literal(settings.get("dynamodb_table")) not in (
        None,
        "",
    )


def backend_locking(configuration: Configuration) -> list[CheckResult]:
    findings = []
    roots = 0
    for block in configuration.of_kind("terraform"):
        for backend in nested(block.body, "backend"):
            roots += 1
            (kind, settings), *_ = backend.items()
            kind = kind.strip('"')
            directory = block.path.parent
            # -backend-config files: beside the root, or one per environment below it.
            partial_files = [
                f for f in configuration.backend_files if f.path.is_relative_to(directory)
            ]
            if kind != "s3":
                if kind == "local":
                    findings.append(_unlocked(block, "state is a local file: nothing is shared"))
                continue
            if _locks(settings):
                continue
            if not partial_files:
                findings.append(_unlocked(block, "S3 backend without use_lockfile or DynamoDB"))
            findings.extend(
                _unlocked(
                    block, f"{f.path.relative_to(directory)} sets no use_lockfile or dynamodb_table"
                )
                for f in partial_files
                if not _locks(f.values)
            )
    return findings or _ok(BACKEND_LOCKING, configuration, f"{roots} backend(s) lock their state")


def _unlocked(block: Block, evidence: str) -> CheckResult:
    return CheckResult.fail(
        BACKEND_LOCKING,
        block.location("backend"),
        evidence + ": two applies at once can corrupt the state",
        hint="set use_lockfile = true in the S3 backend (or its -backend-config file)",
    )


def rules(today: date) -> list[Rule]:
    return [
        service_registries,
        grace_period,
        discovery_ttl,
        endpoint_ip_literals,
        partial(pinned, today=today),
        ssm_declared,
        backend_locking,
        *RULES,
    ]


def lint(configuration: Configuration, today: date) -> list[CheckResult]:
    return [result for rule in rules(today) for result in rule(configuration)]
