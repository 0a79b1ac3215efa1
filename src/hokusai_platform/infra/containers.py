"""The containers a Terraform configuration describes, and the static values it gives them.

A container is written either in a task definition's `container_definitions` (a
`jsonencode(...)` expression or JSON text, read with patterns as python-hcl2 renders it) or as
the inputs of a module call that builds one (`environment_variables`, `secrets`,
`stop_timeout`, `command`, `one_off_commands`, `load_balancer`). A value is known here when it
is a literal, a variable's default, a local, or a sum of those; otherwise it is None.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hokusai_platform.infra.hcl import Block, Configuration, literal, nested

_EXPRESSION = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
_REFERENCE = re.compile(r"^(var|local)\.(\w+)$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_QUOTED_OR_BARE = r'("(?:[^"\\]|\\.)*"|[^,}\]\s]+)'
_ENVIRONMENT = re.compile(r'"?name"?\s*[=:]\s*"(\w+)"\s*,\s*"?value"?\s*[=:]\s*' + _QUOTED_OR_BARE)
_SECRET = re.compile(r'"?name"?\s*[=:]\s*"(\w+)"\s*,\s*"?valueFrom"?\s*[=:]\s*' + _QUOTED_OR_BARE)
_STOP_TIMEOUT = re.compile(r'"?stopTimeout"?\s*[=:]\s*' + _QUOTED_OR_BARE)
_COMMANDS = re.compile(r'"?(?:command|entryPoint)"?\s*[=:]\s*\[([^\]]*)\]')
_TARGET_GROUP = re.compile(r"^\$\{aws_lb_target_group\.(\w+)\.arn\}$")
_TASK_DEFINITION = re.compile(r"^\$\{aws_ecs_task_definition\.(\w+)\.arn\}$")


def value(configuration: Configuration, block: Block, raw: Any, depth: int = 0) -> Any:
    """What `raw` (python-hcl2's form, in `block`'s directory) evaluates to, or None."""
    if depth > 10 or raw is None or isinstance(raw, bool | int | float):
        return raw
    if not isinstance(raw, str):
        return None
    text = literal(raw)
    if text is not None:
        return _number(text)
    match = _EXPRESSION.match(raw)
    terms = [term.strip() for term in (match.group(1) if match else raw).split("+")]
    values = [_term(configuration, block, term, depth) for term in terms]
    if len(values) == 1:
        return values[0]
    return sum(values) if all(is_number(v) for v in values) else None


def is_number(candidate: Any) -> bool:
    return isinstance(candidate, int | float) and not isinstance(candidate, bool)


def _number(text: str) -> Any:
    """`text` as an int or a float when it is written as one, else as it is."""
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def _term(configuration: Configuration, block: Block, term: str, depth: int) -> Any:
    if _NUMBER.fullmatch(term):
        return _number(term)
    if term in ("true", "false"):
        return term == "true"
    match = _REFERENCE.match(term)
    if match is None:
        return literal(term)
    scope, name = match.groups()
    for candidate in configuration.in_directory(block.path.parent):
        if scope == "var" and candidate.kind == "variable" and candidate.labels == (name,):
            return value(configuration, candidate, candidate.body.get("default"), depth + 1)
        if scope == "local" and candidate.kind == "locals" and name in candidate.body:
            return value(configuration, candidate, candidate.body[name], depth + 1)
    return None


@dataclass(frozen=True)
class Container:
    """A container as written: environment and secrets by name, in python-hcl2's form."""

    block: Block
    environment: dict[str, Any]
    secrets: dict[str, Any]
    stop_timeout: Any
    commands: tuple[str, ...]  # every word of its command, entry point and one-off commands
    target_groups: tuple[str, ...]  # names of the aws_lb_target_group resources it serves

    @property
    def is_gateway(self) -> bool:
        return "MLFLOW_SERVER_URL" in self.environment

    @property
    def manages_keys(self) -> bool:
        return self.is_gateway or {"hokusai", "keys"} <= set(self.commands)

    def setting(self, configuration: Configuration, name: str) -> Any:
        return value(configuration, self.block, self.environment.get(name))

    def location(self, pattern: str | None = None) -> str:
        """`file:line` of `pattern` in the container, else of where its environment is."""
        lines = self.block.source.splitlines()[self.block.line - 1 : self.block.end_line]
        if pattern is not None and any(re.search(pattern, line) for line in lines):
            return self.block.location(pattern)
        module = self.block.kind == "module"
        return self.block.location("environment_variables" if module else "container_definitions")


def words(raw: Any) -> Iterator[str]:
    """The words of `raw`, however nested: quoted strings unquoted, bare names as written."""
    if isinstance(raw, dict):
        for item in raw.values():
            yield from words(item)
    elif isinstance(raw, list):
        for item in raw:
            yield from words(item)
    elif isinstance(raw, str):
        yield from (word.strip('"') for word in re.findall(r'"[^"]*"|[\w-]+', raw))


def _names(raw: Any) -> dict[str, Any]:
    return {key.strip('"'): item for key, item in raw.items()} if isinstance(raw, dict) else {}


def _served_groups(configuration: Configuration, task: Block) -> tuple[str, ...]:
    """Target groups of the services in `task`'s directory that run it."""
    groups = []
    for service in configuration.in_directory(task.path.parent):
        if service.type != "aws_ecs_service":
            continue
        runs = _TASK_DEFINITION.match(str(service.body.get("task_definition")))
        if runs is None or runs.group(1) != task.labels[1]:
            continue
        for balancer in nested(service.body, "load_balancer"):
            group = _TARGET_GROUP.match(str(balancer.get("target_group_arn")))
            groups += [group.group(1)] if group else []
    return tuple(groups)


def containers(configuration: Configuration) -> Iterator[Container]:
    for block in configuration.blocks:
        if block.kind == "module" and isinstance(block.body.get("environment_variables"), dict):
            balancer = block.body.get("load_balancer")
            group = _TARGET_GROUP.match(str(_names(balancer).get("target_group_arn")))
            yield Container(
                block,
                _names(block.body["environment_variables"]),
                _names(block.body.get("secrets")),
                block.body.get("stop_timeout"),
                tuple(words([block.body.get(k) for k in ("command", "one_off_commands")])),
                (group.group(1),) if group else (),
            )
        elif block.type == "aws_ecs_task_definition":
            text = str(block.body.get("container_definitions", ""))
            stop_timeout = _STOP_TIMEOUT.search(text)
            yield Container(
                block,
                dict(_ENVIRONMENT.findall(text)),
                dict(_SECRET.findall(text)),
                stop_timeout.group(1) if stop_timeout else None,
                tuple(words(_COMMANDS.findall(text))),
                _served_groups(configuration, block),
            )
