"""`--watch`: what changed between two runs (the plan's "monitor service health" week)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hokusai_platform.checks import CheckResult

Key = tuple[str, str]


@dataclass(frozen=True)
class Change:
    before: CheckResult | None
    after: CheckResult | None

    def describe(self) -> str:
        current = self.after or self.before
        assert current is not None
        was = self.before.status if self.before else "new"
        now = self.after.status if self.after else "gone"
        line = f"{current.id} {current.subject}: {was} -> {now}"
        if self.after is not None and self.after.status != "ok":
            line += f": {self.after.evidence}"
        return line

    def to_json(self) -> dict[str, object]:
        return {
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }


def _key(result: CheckResult) -> Key:
    return (result.id, result.subject)


def _differs(before: CheckResult, after: CheckResult) -> bool:
    # An ok result's evidence moves on every run (latencies); only a problem's detail matters.
    if before.status != after.status:
        return True
    return after.status != "ok" and before.evidence != after.evidence


def changes(before: Sequence[CheckResult], after: Sequence[CheckResult]) -> list[Change]:
    old = {_key(result): result for result in before}
    new = {_key(result): result for result in after}
    found = [
        Change(old.get(key), result)
        for key, result in new.items()
        if key not in old or _differs(old[key], result)
    ]
    found += [Change(result, None) for key, result in old.items() if key not in new]
    return found
