"""The gateway's log signals as the monitoring module declares them (its `log_signals` local)."""

from __future__ import annotations

from dataclasses import dataclass

from hokusai_platform.infra import hcl
from support.terraform import TREE


@dataclass(frozen=True)
class LogSignal:
    name: str
    metric: str
    pattern: str
    value: str


def log_signals() -> list[LogSignal]:
    configuration = hcl.load(TREE / "modules" / "monitoring")
    [declared] = [
        block.body["log_signals"]
        for block in configuration.of_kind("locals")
        if "log_signals" in block.body
    ]
    signals = []
    for name, body in declared.items():
        metric, pattern, value = (hcl.literal(body[k]) for k in ("metric", "pattern", "value"))
        assert metric and pattern and value, f"log_signals.{name} is not made of literals"
        signals.append(LogSignal(name, metric, pattern, value))
    return signals
