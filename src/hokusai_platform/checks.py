"""Check results, shared by `hokusai doctor` and `hokusai infra lint`: one type, one renderer.

Each check (ecspresso `verify` style) is a small function returning `CheckResult`s; the
commands only select checks, run them and render what they return, as a table or JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail", "skipped"]

# Ordered from worst to best: a summary reads failures first.
STATUSES: tuple[Status, ...] = ("fail", "warn", "skipped", "ok")
_LABELS: dict[Status, str] = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skipped": "skip"}
_NOUNS: dict[Status, str] = {"ok": "ok", "warn": "warning", "fail": "failed", "skipped": "skipped"}
_SUBJECT_WIDTH = 44


@dataclass(frozen=True)
class CheckResult:
    """What one check found about one subject.

    `id` names the check (`aws.ecs.service-registries`, a lint rule id); `subject` what it
    looked at (a resource, a DNS name, `main.tf:12`); `evidence` what it saw; `hint` how to
    fix it; for `skipped`, `evidence` says why the check could not run.
    """

    id: str
    status: Status
    subject: str
    evidence: str
    hint: str = ""

    @classmethod
    def ok(cls, id: str, subject: str, evidence: str) -> CheckResult:
        return cls(id, "ok", subject, evidence)

    @classmethod
    def warn(cls, id: str, subject: str, evidence: str, *, hint: str = "") -> CheckResult:
        return cls(id, "warn", subject, evidence, hint)

    @classmethod
    def fail(cls, id: str, subject: str, evidence: str, *, hint: str = "") -> CheckResult:
        return cls(id, "fail", subject, evidence, hint)

    @classmethod
    def skipped(cls, id: str, subject: str, reason: str) -> CheckResult:
        return cls(id, "skipped", subject, reason)

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def summary(results: Sequence[CheckResult]) -> str:
    """`2 failed, 1 warning, 3 ok`: the counts, worst first, none that are zero."""
    counts = Counter(result.status for result in results)
    parts = []
    for status in STATUSES:
        if counts[status]:
            noun = _NOUNS[status]
            plural = "s" if status == "warn" and counts[status] > 1 else ""
            parts.append(f"{counts[status]} {noun}{plural}")
    return ", ".join(parts) or "no checks ran"


def render_json(
    results: Sequence[CheckResult],
    elapsed: float | None = None,
    layer_seconds: Mapping[str, float] | None = None,
) -> str:
    document: dict[str, object] = {
        "results": [result.to_json() for result in results],
        "summary": {status: sum(r.status == status for r in results) for status in STATUSES},
    }
    if elapsed is not None:
        document["elapsed_seconds"] = round(elapsed, 3)
    if layer_seconds is not None:
        document["layer_seconds"] = {name: round(s, 3) for name, s in layer_seconds.items()}
    return json.dumps(document, indent=2)


def render_table(
    results: Sequence[CheckResult],
    group: Callable[[CheckResult], str] | None = None,
    elapsed: float | None = None,
) -> str:
    """One line per result (evidence continues indented), under a heading per group."""
    width = min(max((len(r.subject) for r in results), default=0), _SUBJECT_WIDTH)
    id_width = max((len(r.id) for r in results), default=0)
    lines: list[str] = []
    heading: str | None = None
    for result in results:
        if group is not None and group(result) != heading:
            heading = group(result)
            lines.append(("\n" if lines else "") + heading)
        first, *more = result.evidence.splitlines() or [""]
        lines.append(
            f"  {_LABELS[result.status]:<4}  {result.id:<{id_width}}  "
            f"{result.subject:<{width}}  {first}".rstrip()
        )
        indent = " " * (10 + id_width + width)
        lines.extend(f"{indent}{line}" for line in more)
        if result.hint and result.status in ("warn", "fail"):
            lines.append(f"{indent}fix: {result.hint}")
    lines.append("")
    lines.append(summary(results) + (f" in {elapsed:.1f} s" if elapsed is not None else ""))
    return "\n".join(lines)
