"""MLflow workspace names, checked as MLflow checks them (its `WorkspaceNameValidator`): a key
is never pinned to a workspace MLflow could not have."""

from __future__ import annotations

import re

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_RESERVED = frozenset(("workspaces", "api", "ajax-api", "static-files"))
MIN_CHARS, MAX_CHARS = 2, 63


def parse_workspace(text: str) -> str:
    """`text` as a workspace name, or a ValueError that says what is wrong with it."""
    name = text.strip()
    if not MIN_CHARS <= len(name) <= MAX_CHARS:
        raise ValueError(f"workspace {name[:80]!r} must be {MIN_CHARS} to {MAX_CHARS} characters")
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"workspace {name!r} must be lower-case letters, digits and inner hyphens")
    if name in _RESERVED:
        raise ValueError(f"workspace {name!r} is a name MLflow reserves")
    return name
