"""`hokusai infra lint` rules for the production shape: every API task on one key store, deploys
that drain instead of dropping requests, and what operators need to see (access logs, metrics
on a private port, the audit trail in CloudWatch).

They judge the gateway's containers (`containers.py`) and what serves them: its ECS
services, load balancers, target groups and security groups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from hokusai_platform.checks import CheckResult
from hokusai_platform.infra.containers import Container, containers, is_number, value, words
from hokusai_platform.infra.hcl import Block, Configuration, literal, nested
from hokusai_platform.settings import Settings

KEY_STORE = "keys.shared-store"
CIRCUIT_BREAKER = "ecs.circuit-breaker"
STOP_TIMEOUT = "ecs.stop-timeout"
DEREGISTRATION_DELAY = "lb.deregistration-delay"
ACCESS_LOGS = "lb.access-logs"
METRICS_PORT = "gateway.metrics-port"
ALLOWED_HOSTS = "gateway.allowed-hosts"
AUDIT_LOG = "gateway.audit-log"

ECS_STOP_TIMEOUT = 30  # a container's stopTimeout when its definition sets none
MAX_STOP_TIMEOUT = 120  # and ECS's limit on it
DEFAULT_DEREGISTRATION_DELAY = 300  # the target group's, when not set

_WORLD = ("0.0.0.0/0", "::/0")

Judge = Callable[[Configuration, Any], CheckResult | None]
Rule = Callable[[Configuration], list[CheckResult]]


def _rule(
    rule: str, subjects: Callable[[Configuration], list[Any]], ok: str
) -> Callable[[Judge], Rule]:
    """A lint rule made of a judge of one subject: the findings it makes of every subject,
    else one `ok` that says (with their number, `{}`) what was checked."""

    def decorate(judge: Judge) -> Rule:
        def run(configuration: Configuration) -> list[CheckResult]:
            found = subjects(configuration)
            findings = [f for s in found if (f := judge(configuration, s)) is not None]
            return findings or [
                CheckResult.ok(rule, str(configuration.root), ok.format(len(found)))
            ]

        return run

    return decorate


def _gateways(configuration: Configuration) -> list[Container]:
    return [c for c in containers(configuration) if c.is_gateway]


def _drains(configuration: Configuration) -> dict[str, float]:
    """The longest HOKUSAI_DRAIN_SECONDS of the gateways each target group serves, by its name."""
    drains: dict[str, float] = {}
    for container in _gateways(configuration):
        drain = _drain(configuration, container)
        if drain is None:
            continue
        for group in container.target_groups:
            drains[group] = max(drain, drains.get(group, 0))
    return drains


def _seconds(
    configuration: Configuration, container: Container, name: str, default: float
) -> float | None:
    """A duration the gateway reads from `name`: its default when unset, None when unknown."""
    if name not in container.environment:
        return default
    seconds = container.setting(configuration, name)
    return float(seconds) if is_number(seconds) else None


def _drain(configuration: Configuration, container: Container) -> float | None:
    return _seconds(configuration, container, "HOKUSAI_DRAIN_SECONDS", Settings.drain_seconds)


def _unset(rule: str, container: Container, name: str, why: str, hint: str) -> CheckResult:
    return CheckResult.fail(
        rule, container.location(), f"{container.block.address}: no {name}: {why}", hint=hint
    )


def _gateway_target_groups(configuration: Configuration) -> list[Block]:
    drains = _drains(configuration)
    return [g for g in configuration.resources("aws_lb_target_group") if g.labels[1] in drains]


@_rule(
    KEY_STORE,
    lambda configuration: [c for c in containers(configuration) if c.manages_keys],
    "{} container(s) that use keys read HOKUSAI_DATABASE_URL from a secret",
)
def shared_key_store(configuration: Configuration, container: Container) -> CheckResult | None:
    if container.setting(configuration, "HOKUSAI_AUTH") == "off":
        return None
    if "HOKUSAI_DATABASE_URL" in container.environment:
        return CheckResult.fail(
            KEY_STORE,
            container.location("HOKUSAI_DATABASE_URL"),
            f"{container.block.address}: HOKUSAI_DATABASE_URL is plain environment: its "
            "password is readable by anyone who may describe the task definition",
            hint="pass it in `secrets` (valueFrom an SSM SecureString or Secrets Manager)",
        )
    if "HOKUSAI_DATABASE_URL" not in container.secrets:
        return _unset(
            KEY_STORE,
            container,
            "HOKUSAI_DATABASE_URL",
            "each task would keep its keys in a SQLite file of its own, and forget them on "
            "every deploy",
            hint="add HOKUSAI_DATABASE_URL to `secrets`, valueFrom the PostgreSQL URL's "
            "parameter (modules/database makes one)",
        )
    return None


@_rule(
    CIRCUIT_BREAKER,
    lambda configuration: list(configuration.resources("aws_ecs_service")),
    "{} ECS service(s) roll a failed deployment back",
)
def circuit_breaker(configuration: Configuration, service: Block) -> CheckResult | None:
    controllers = nested(service.body, "deployment_controller")
    if any(value(configuration, service, c.get("type")) != "ECS" for c in controllers):
        return None  # CodeDeploy or an external controller rolls back on its own
    breakers = nested(service.body, "deployment_circuit_breaker")
    if any(
        value(configuration, service, b.get("enable")) is True
        and value(configuration, service, b.get("rollback")) is True
        for b in breakers
    ):
        return None
    return CheckResult.fail(
        CIRCUIT_BREAKER,
        service.location("deployment_circuit_breaker"),
        f"{service.address} has no deployment circuit breaker with rollback: a "
        "deployment whose tasks never turn healthy keeps replacing the healthy ones",
        hint="add `deployment_circuit_breaker { enable = true, rollback = true }`",
    )


@_rule(STOP_TIMEOUT, _gateways, "{} gateway container(s) have time to drain before ECS kills them")
def stop_timeout(configuration: Configuration, container: Container) -> CheckResult | None:
    drain = _drain(configuration, container)
    timeout = _seconds(configuration, container, "HOKUSAI_DRAIN_TIMEOUT", Settings.drain_timeout)
    written = container.stop_timeout is not None
    stop: Any = value(configuration, container.block, container.stop_timeout)
    stop = stop if written else ECS_STOP_TIMEOUT
    where = container.location("stop_timeout|stopTimeout")
    if drain is None or timeout is None or not is_number(stop):
        return CheckResult.warn(
            STOP_TIMEOUT,
            where,
            f"{container.block.address}: HOKUSAI_DRAIN_SECONDS, HOKUSAI_DRAIN_TIMEOUT or "
            "stopTimeout is not a static value here: they cannot be checked together",
            hint="use literals, variables with defaults or locals",
        )
    if drain + timeout <= stop <= MAX_STOP_TIMEOUT:
        return None
    return CheckResult.fail(
        STOP_TIMEOUT,
        where,
        f"{container.block.address}: stopTimeout {stop}s{'' if written else ' (ECS default)'} "
        f"is not between HOKUSAI_DRAIN_SECONDS + HOKUSAI_DRAIN_TIMEOUT ({drain + timeout:g}s) "
        f"and {MAX_STOP_TIMEOUT}s: ECS kills the gateway before what it serves has ended",
        hint="stopTimeout = HOKUSAI_DRAIN_SECONDS + HOKUSAI_DRAIN_TIMEOUT + a few seconds "
        f"to exit, at most {MAX_STOP_TIMEOUT} (shorten the drain if need be)",
    )


@_rule(
    DEREGISTRATION_DELAY,
    _gateway_target_groups,
    "{} target group(s) of gateways wait out their drain",
)
def deregistration_delay(configuration: Configuration, group: Block) -> CheckResult | None:
    raw = group.body.get("deregistration_delay", DEFAULT_DEREGISTRATION_DELAY)
    delay = value(configuration, group, raw)
    drain = _drains(configuration)[group.labels[1]]
    if not is_number(delay) or delay >= drain:
        return None
    return CheckResult.fail(
        DEREGISTRATION_DELAY,
        group.location("deregistration_delay"),
        f"{group.address}: deregistration delay {delay}s is shorter than the drain of "
        f"the gateways it serves ({drain:g}s): the ALB cuts requests the gateway still serves",
        hint="deregistration_delay = the container's stopTimeout (at least its drain)",
    )


@_rule(
    ACCESS_LOGS,
    lambda configuration: [*configuration.resources("aws_lb"), *configuration.resources("aws_alb")],
    "{} load balancer(s) keep access logs",
)
def access_logs(configuration: Configuration, balancer: Block) -> CheckResult | None:
    kind = value(configuration, balancer, balancer.body.get("load_balancer_type"))
    if kind not in (None, "application"):
        return None
    logs = nested(balancer.body, "access_logs")
    if any(value(configuration, balancer, a.get("enabled")) is True for a in logs):
        return None
    return CheckResult.fail(
        ACCESS_LOGS,
        balancer.location("access_logs"),
        f"{balancer.address} keeps no access logs (access_logs.enabled defaults to "
        "false): the requests it answered itself, 502s and 504s included, leave no trace",
        hint="add `access_logs { bucket = <log bucket>, enabled = true }`",
    )


def _open_to_the_world(configuration: Configuration, port: int) -> Iterator[tuple[Block, str]]:
    """Security groups (inline ingress or rules) that let anyone reach `port`."""
    for block in configuration.blocks:
        if block.type == "aws_security_group":
            rules = nested(block.body, "ingress")
        elif block.type == "aws_security_group_rule":
            rules = [block.body] if literal(block.body.get("type")) == "ingress" else []
        elif block.type == "aws_vpc_security_group_ingress_rule":
            cidrs = [block.body.get("cidr_ipv4"), block.body.get("cidr_ipv6")]
            rules = [{**block.body, "cidr_blocks": cidrs}]
        else:
            continue
        for rule in rules:
            low = value(configuration, block, rule.get("from_port"))
            high = value(configuration, block, rule.get("to_port", rule.get("from_port")))
            if not (isinstance(low, int) and isinstance(high, int) and low <= port <= high):
                continue
            sources = [*words(rule.get("cidr_blocks")), *words(rule.get("ipv6_cidr_blocks"))]
            yield from ((block, cidr) for cidr in _WORLD if cidr in sources)


@_rule(
    METRICS_PORT, _gateways, "{} gateway container(s) serve /metrics on a port private to the VPC"
)
def metrics_port(configuration: Configuration, container: Container) -> CheckResult | None:
    port = container.setting(configuration, "HOKUSAI_METRICS_PORT")
    if "HOKUSAI_METRICS_PORT" not in container.environment:
        return _unset(
            METRICS_PORT,
            container,
            "HOKUSAI_METRICS_PORT",
            "/metrics is served on the API port, to everyone the load balancer lets in",
            hint="set HOKUSAI_METRICS_PORT and open it to the VPC's CIDR only",
        )
    opened = next(_open_to_the_world(configuration, port), None) if port else None
    if opened is None:
        return None
    group, cidr = opened
    return CheckResult.fail(
        METRICS_PORT,
        group.location(re.escape(cidr)),
        f"{group.address} opens the metrics port {port} to {cidr}",
        hint="allow the metrics port from the VPC's CIDR (or the scraper's group) only",
    )


@_rule(ALLOWED_HOSTS, _gateways, "{} gateway container(s) serve only their own host names")
def allowed_hosts(configuration: Configuration, container: Container) -> CheckResult | None:
    if "HOKUSAI_ALLOWED_HOSTS" in container.environment:
        return None
    return _unset(
        ALLOWED_HOSTS,
        container,
        "HOKUSAI_ALLOWED_HOSTS",
        "the gateway answers any Host, so a page on another name can rebind to it",
        hint="HOKUSAI_ALLOWED_HOSTS = the registry's host name, and its discovery name",
    )


@_rule(AUDIT_LOG, _gateways, "{} gateway container(s) write the audit log to CloudWatch (stderr)")
def audit_log(configuration: Configuration, container: Container) -> CheckResult | None:
    sink = container.setting(configuration, "HOKUSAI_AUDIT_LOG")
    if "HOKUSAI_AUDIT_LOG" not in container.environment or sink == "stderr":
        return None
    return CheckResult.fail(
        AUDIT_LOG,
        container.location("HOKUSAI_AUDIT_LOG"),
        f"{container.block.address}: HOKUSAI_AUDIT_LOG is {sink or 'an expression'}: "
        "a file in the container is lost with the task",
        hint='HOKUSAI_AUDIT_LOG = "stderr": the log driver ships it to CloudWatch',
    )


RULES = [
    shared_key_store,
    circuit_breaker,
    stop_timeout,
    deregistration_delay,
    access_logs,
    metrics_port,
    allowed_hosts,
    audit_log,
]
