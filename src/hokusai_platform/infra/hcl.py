"""The Terraform tree as blocks that know where they are written (file and line).

python-hcl2 gives each block's content; the parse tree beneath it gives its lines. Values stay
in python-hcl2's form: a string literal keeps its quotes (`'"FARGATE"'`), an expression is
`"${...}"`, a nested block is a list of dicts marked `__is_block__`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

_OPTIONS = SerializationOptions(with_comments=False)
_SKIPPED_DIRECTORIES = {".terraform", ".git"}
# What `terraform init` records: the providers chosen and their checksums. It configures
# nothing, so no rule reads it (it is not a partial backend configuration).
_PROVIDER_LOCK = ".terraform.lock.hcl"


class HclError(Exception):
    """A file that is not valid HCL; the message names it."""


_TEMPLATE = re.compile(r"(?<![$%])[$%]\{")
_ESCAPE = re.compile(r'\\([\\"nrt])|([$%])\2\{')
_ESCAPED = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def literal(raw: Any) -> str | None:
    """The text of a plain string literal, None for an expression or a template."""
    if not (isinstance(raw, str) and len(raw) >= 2 and raw[0] == raw[-1] == '"'):
        return None
    if _TEMPLATE.search(raw):
        return None
    return _ESCAPE.sub(
        lambda m: _ESCAPED[m.group(1)] if m.group(1) else m.group(2) + "{", raw[1:-1]
    )


def nested(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks `name` of a block body (static ones only)."""
    value = body.get(name)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class Block:
    kind: str  # resource, data, module, variable, locals, terraform, provider, output, import
    labels: tuple[str, ...]
    body: dict[str, Any]
    path: Path
    line: int
    end_line: int
    source: str = field(repr=False)

    @property
    def type(self) -> str:
        """The resource or data source type; empty for other blocks."""
        return self.labels[0] if self.kind in ("resource", "data") and self.labels else ""

    @property
    def address(self) -> str:
        prefix = {"resource": "", "data": "data.", "module": "module.", "variable": "var."}
        if self.kind in prefix:
            return prefix[self.kind] + ".".join(self.labels)
        return " ".join((self.kind, *(f'"{label}"' for label in self.labels)))

    def location(self, pattern: str | None = None) -> str:
        """`file:line` of the block, or of its first line matching `pattern` (a regex)."""
        line = self.line
        if pattern is not None:
            lines = self.source.splitlines()[self.line - 1 : self.end_line]
            for offset, text in enumerate(lines):
                if re.search(pattern, text):
                    line = self.line + offset
                    break
        return f"{self.path}:{line}"


@dataclass(frozen=True)
class AttributesFile:
    """A file of top-level assignments: `.tfvars`, or a partial backend configuration."""

    path: Path
    values: dict[str, Any]
    source: str = field(repr=False)

    def location(self, name: str) -> str:
        for number, text in enumerate(self.source.splitlines(), start=1):
            if re.match(rf"\s*{re.escape(name)}\s*=", text):
                return f"{self.path}:{number}"
        return str(self.path)


@dataclass(frozen=True)
class Configuration:
    """Every `.tf` and `.tfvars` file under one directory."""

    root: Path
    blocks: tuple[Block, ...]
    variables_files: tuple[AttributesFile, ...]
    backend_files: tuple[AttributesFile, ...]

    def resources(self, resource_type: str, kind: str = "resource") -> Iterator[Block]:
        return (b for b in self.blocks if b.kind == kind and b.type == resource_type)

    def of_kind(self, kind: str) -> Iterator[Block]:
        return (b for b in self.blocks if b.kind == kind)

    def in_directory(self, directory: Path) -> Iterator[Block]:
        return (b for b in self.blocks if b.path.parent == directory)


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        document: dict[str, Any] = hcl2.loads(text, serialization_options=_OPTIONS)
    except Exception as exc:  # python-hcl2 raises lark's errors, which have no common base
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HclError(f"{path}: not valid HCL: {first_line}") from None
    return document


def _blocks(path: Path, text: str) -> list[Block]:
    document = _parse(path, text)
    seen: Counter[str] = Counter()
    blocks = []
    for node in hcl2.parses_to_tree(text).children[0].children:
        if getattr(node, "data", None) != "block":
            continue
        kind = str(node.children[0].children[0])
        content: Any = document[kind][seen[kind]]
        seen[kind] += 1
        label_count = sum(
            getattr(c, "data", None) in ("string", "identifier") for c in node.children
        )
        labels = []
        for _ in range(label_count - 1):  # the first identifier is the kind
            (label, content), *_ = content.items()
            labels.append(label.strip('"'))
        blocks.append(
            Block(kind, tuple(labels), content, path, node.meta.line, node.meta.end_line, text)
        )
    return blocks


def load(root: Path, *, recursive: bool = True) -> Configuration:
    """Read a directory tree, one directory (not `recursive`) or one file; raises HclError
    naming a file that does not parse."""
    listed = root.rglob if recursive else root.glob
    paths = [root] if root.is_file() else sorted(listed("*"))
    blocks: list[Block] = []
    files: dict[str, list[AttributesFile]] = {".tfvars": [], ".hcl": [], ".tfbackend": []}
    for path in paths:
        skipped = _SKIPPED_DIRECTORIES.intersection(path.parts) or path.name == _PROVIDER_LOCK
        if skipped or not path.is_file():
            continue
        if path.suffix == ".tf":
            blocks.extend(_blocks(path, path.read_text()))
        elif path.suffix in files:
            text = path.read_text()
            files[path.suffix].append(AttributesFile(path, _parse(path, text), text))
    return Configuration(
        root, tuple(blocks), tuple(files[".tfvars"]), (*files[".hcl"], *files[".tfbackend"])
    )
