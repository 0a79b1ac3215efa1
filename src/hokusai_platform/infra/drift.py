"""What a `terraform plan` says about changes made outside Terraform, and which of them matter.

A refresh finds every difference between the state and the remote objects, most of them
bookkeeping nobody made: an attribute another resource of the configuration sets (a role's
`inline_policy` written by `aws_iam_role_policy`, a target group's `load_balancer_arns` once
its listener exists), or an unset value read back as an empty one. A change a person made is
one the plan would undo, or one that feeds a change the plan makes (Terraform's own test for
showing drift, its `relevant_attributes`); only those are reported.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_UNCHANGED = (["no-op"], ["read"])


@dataclass(frozen=True)
class Streamed:
    """What `terraform plan -json` printed as it ran, one JSON message a line."""

    errors: tuple[str, ...]
    drifted: frozenset[str]
    changing: frozenset[str]

    @classmethod
    def parse(cls, output: str) -> Streamed:
        errors: list[str] = []
        drifted: set[str] = set()
        changing: set[str] = set()
        for message in _messages(output):
            change, diagnostic = message.get("change"), message.get("diagnostic")
            if message.get("@level") == "error" and isinstance(diagnostic, dict):
                summary, detail = diagnostic.get("summary", ""), diagnostic.get("detail", "")
                errors.append(f"{summary} {detail}".strip())
            elif isinstance(change, dict) and (address := change.get("resource", {}).get("addr")):
                if message.get("type") == "resource_drift":
                    drifted.add(address)
                elif message.get("type") == "planned_change" and change.get("action") != "read":
                    changing.add(address)  # a data source read at apply time changes nothing
        return cls(tuple(errors), frozenset(drifted), frozenset(changing))

    @property
    def may_matter(self) -> bool:
        """False when the plan alone proves no drift matters: none found, or nothing to undo.

        With no planned change, no drifted attribute is one the configuration sets (it would
        be put back) or one a planned change reads.
        """
        return bool(self.drifted and self.changing)


def _messages(output: str) -> Iterator[dict[str, Any]]:
    for line in output.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            message = json.loads(line)
            if isinstance(message, dict):
                yield message


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _differing(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Top-level attributes whose values differ; an unset value read back empty does not."""
    return [
        key
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
        and not (_empty(before.get(key)) and _empty(after.get(key)))
    ]


def _planned(change: dict[str, Any]) -> set[str]:
    """Attributes a planned change sets to something else, or to a value known after apply."""
    unknown = change.get("after_unknown") or {}
    known = _differing(change.get("before") or {}, change.get("after") or {})
    return {*known, *(key for key, value in unknown.items() if value)}


# (resource, top-level attribute) a planned change reads; None: the whole object.
Read = tuple[str, str | None]


def _relevant(plan: dict[str, Any]) -> list[Read]:
    reads: list[Read] = []
    for entry in plan.get("relevant_attributes", []):
        path = entry.get("attribute") or [None]
        reads.append((str(entry["resource"]), path[0] if isinstance(path[0], str) else None))
    return reads


def _is_read(reads: list[Read], address: str, attribute: str) -> bool:
    # An entry may name the resource without the instance key a for_each gives it.
    return any(
        (address == resource or address.startswith(resource + "[")) and read in (None, attribute)
        for resource, read in reads
    )


def drifted(plan: dict[str, Any]) -> list[str]:
    """`address: attribute, …` (`address: deleted`) for each change outside Terraform that
    matters, from `terraform show -json` of a normal plan."""
    planned = {
        resource["address"]: _planned(resource["change"])
        for resource in plan.get("resource_changes", [])
        if resource["change"]["actions"] not in _UNCHANGED
    }
    reads = _relevant(plan)
    found = []
    for drift in plan.get("resource_drift", []):
        address, change = drift["address"], drift["change"]
        if change["actions"] == ["delete"]:
            if address in planned:
                found.append(f"{address}: deleted")
            continue
        undone = planned.get(address, set())
        changed = [
            key
            for key in _differing(change.get("before") or {}, change.get("after") or {})
            if key in undone or _is_read(reads, address, key)
        ]
        if changed:
            found.append(f"{address}: {', '.join(changed)}")
    return found
