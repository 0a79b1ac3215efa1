"""Static values of a Terraform configuration: names, ports, hosts — what is known before apply.

What a checker expects must come from the configuration itself, so this evaluates the subset
of HCL that names things: literals, templates, `var.*`, `local.*`, `each.key`, module outputs,
arguments of other resources (`aws_lb_target_group.api.name`, also `[key]` of a `for_each`),
and `join`. Anything only known after apply (ARNs, ids, data sources) raises `Unknown`.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from hokusai_platform.infra import hcl

Value = Any


class Unknown(Exception):
    """The expression's value is only known after apply (or uses HCL this does not evaluate)."""


_TEMPLATE_PART = re.compile(r"\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_VARIABLE = re.compile(r"^(var|local|each)\.(\w+)$")
_MODULE_OUTPUT = re.compile(r'^module\.(\w+)\.(\w+)(?:\["([^"]+)"\])?$')
_RESOURCE = re.compile(r'^([a-z0-9_]+)\.(\w+)(?:\["([^"]+)"\])?\.(\w+)$')
_JOIN = re.compile(r'^join\("([^"]*)",\s*(.+)\)$')


class Module:
    """One module directory evaluated with its inputs; for the root, the variables files
    Terraform reads by itself, then `variables_files` (its -var-file options, in order)."""

    def __init__(
        self,
        directory: Path,
        inputs: dict[str, Value] | None = None,
        variables_files: tuple[Path, ...] = (),
    ) -> None:
        self.directory = directory
        self._inputs = inputs
        self._variables_files = variables_files
        self._each: dict[str, Value] = {}
        self._modules: dict[str, Module] = {}

    @cached_property
    def configuration(self) -> hcl.Configuration:
        return hcl.load(self.directory, recursive=False)  # a module is one directory

    def named(self, kind: str) -> dict[str, dict[str, Any]]:
        """Blocks of one kind (`module`, `variable`, `output`) by their label."""
        return {block.labels[0]: block.body for block in self.configuration.of_kind(kind)}

    @cached_property
    def variables(self) -> dict[str, Value]:
        values: dict[str, Value] = {}
        for name, block in self.named("variable").items():
            if "default" in block:
                values[name] = self._literal(block["default"])
        if self._inputs is not None:
            values.update(self._inputs)
            return values
        for file in self._root_variables():
            values.update({k: self._literal(v) for k, v in file.values.items()})
        return values

    def _root_variables(self) -> list[hcl.AttributesFile]:
        """In Terraform's order: terraform.tfvars, *.auto.tfvars, then the -var-file options."""
        beside = self.configuration.variables_files  # sorted by name
        automatic = [f for f in beside if f.path.name == "terraform.tfvars"]
        automatic += [f for f in beside if f.path.name.endswith(".auto.tfvars")]
        given = [file for path in self._variables_files for file in hcl.load(path).variables_files]
        return automatic + given

    def _literal(self, raw: Value) -> Value:
        try:
            return self.evaluate(raw)
        except Unknown:
            return None

    def module(self, name: str) -> Module:
        if name not in self._modules:
            self._modules[name] = self._instantiate(name)
        return self._modules[name]

    def _instantiate(self, name: str) -> Module:
        call = self.named("module").get(name)
        if call is None:
            raise Unknown(f"module.{name}")
        source = str(self.evaluate(call["source"]))
        if not source.startswith("."):
            raise Unknown(f"module.{name} comes from {source}")
        inputs = {}
        for key, raw in call.items():
            if key not in ("source", "depends_on", "__is_block__", "providers", "version"):
                try:
                    inputs[key] = self.evaluate(raw)
                except Unknown:
                    continue  # left undefined: an output that needs it will say Unknown
        return Module((self.directory / source).resolve(), inputs)

    def output(self, name: str) -> Value:
        block = self.named("output").get(name)
        if block is None:
            raise Unknown(f"output {name}")
        return self.evaluate(block["value"])

    def argument(self, kind: str, name: str, key: str | None, attribute: str) -> Value:
        """A resource's configured argument, with `each.key` bound for a `for_each` instance."""
        bodies = [
            b.body for b in self.configuration.of_kind("resource") if b.labels == (kind, name)
        ]
        block = bodies[0] if bodies else None
        if block is None or attribute not in block:
            raise Unknown(f"{kind}.{name}.{attribute}")
        saved, self._each = self._each, {"key": key, "value": key} if key is not None else {}
        try:
            return self.evaluate(block[attribute])
        finally:
            self._each = saved

    def referenced(self, raw: Value, attribute: str) -> Value:
        """Another argument of the resource `raw` refers to: the name behind an `.arn`."""
        match = (
            _RESOURCE.match(raw[2:-1]) if isinstance(raw, str) and raw.startswith("${") else None
        )
        if match is None:
            raise Unknown(str(raw))
        kind, name, key, _ = match.groups()
        return self.argument(kind, name, key, attribute)

    def evaluate(self, raw: Value) -> Value:
        if isinstance(raw, dict):
            return {k: self.evaluate(v) for k, v in raw.items() if k != "__is_block__"}
        if isinstance(raw, list):
            return [self.evaluate(item) for item in raw]
        if not isinstance(raw, str):
            return raw
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            return _TEMPLATE_PART.sub(lambda m: str(self._expression(m.group(1))), raw[1:-1])
        if raw.startswith("${") and raw.endswith("}"):
            return self._expression(raw[2:-1])
        return raw

    def _expression(self, text: str) -> Value:
        text = text.strip()
        if match := _VARIABLE.match(text):
            scope, name = match.groups()
            if scope == "var" and name in self.variables and self.variables[name] is not None:
                return self.variables[name]
            if scope == "local":
                for block in self.configuration.of_kind("locals"):
                    if name in block.body:
                        return self.evaluate(block.body[name])
            if scope == "each" and name in self._each:
                return self._each[name]
            raise Unknown(text)
        if match := _MODULE_OUTPUT.match(text):
            module, output, key = match.groups()
            value = self.module(module).output(output)
            return value[key] if key is not None else value
        if match := _JOIN.match(text):
            separator, inner = match.groups()
            return separator.join(str(item) for item in self._expression(inner))
        if match := _RESOURCE.match(text):
            kind, name, key, attribute = match.groups()
            if kind in ("var", "local", "each", "module", "data"):
                raise Unknown(text)
            return self.argument(kind, name, key, attribute)
        raise Unknown(text)
