"""CloudWatch Logs JSON filter patterns, the subset the monitoring module writes, evaluated the
way CloudWatch evaluates them: moto_server stores metric filters but matches every event
against a JSON pattern and has no TestMetricFilter, so it cannot say whether one matches.

The subset: `{ $.a = "x" && $.b.c = "y" }`: equality of string values at property paths,
joined by `&&`. Anything else (wildcards, numbers, `||`, `!=`, arrays) raises ValueError, so
a pattern outside the subset fails its test instead of passing it unchecked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_TERM = re.compile(r'\s*\$\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*=\s*"((?:[^"\\*]|\\.)*)"\s*')
_CONJUNCTION = re.compile(r"&&")


@dataclass(frozen=True)
class JsonFilterPattern:
    terms: tuple[tuple[tuple[str, ...], str], ...]  # (property path, string it must equal)

    @classmethod
    def parse(cls, pattern: str) -> JsonFilterPattern:
        text = pattern.strip()
        if not (text.startswith("{") and text.endswith("}")):
            raise ValueError(f"not a JSON filter pattern: {pattern!r}")
        terms = []
        position, inner = 0, text[1:-1]
        while True:
            match = _TERM.match(inner, position)
            if match is None:
                raise ValueError(f"outside the supported subset at {inner[position:]!r}")
            path, value = match.groups()
            terms.append((tuple(path.split(".")), json.loads(f'"{value}"')))
            position = match.end()
            if position == len(inner):
                return cls(tuple(terms))
            conjunction = _CONJUNCTION.match(inner, position)
            if conjunction is None:
                raise ValueError(f"outside the supported subset at {inner[position:]!r}")
            position = conjunction.end()

    def matches(self, event: str) -> bool:
        """CloudWatch reads an event as JSON only if it is one JSON object."""
        try:
            document = json.loads(event)
        except ValueError:
            return False
        return isinstance(document, dict) and all(
            _at(document, path) == value for path, value in self.terms
        )


def _at(document: dict[str, object], path: tuple[str, ...]) -> object:
    value: object = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, str) else None
