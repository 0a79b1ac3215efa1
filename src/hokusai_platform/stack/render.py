"""What a person reads: the status table, the URLs to use and the lines to paste."""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = ("SERVICE", "PID", "ADDRESS", "DNS NAME", "HEALTH", "UPTIME")


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def status_table(services: Sequence[Mapping[str, Any]], now: float | None = None) -> str:
    now = time.time() if now is None else now
    rows = [COLUMNS]
    for service in services:
        started = service.get("started_at")
        health = service["health"]
        if restarts := service.get("restarts"):
            health += f" ({restarts} restart{'s' if restarts > 1 else ''})"
        rows.append(
            (
                service["name"],
                str(service.get("pid") or "-"),
                service["address"],
                service["dns_name"] if service.get("registered") else "-",
                health,
                duration(now - started) if started else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def usage(urls: Mapping[str, str], token: str | None) -> str:
    width = max(len(label) for label in urls)
    lines = [f"  {label.ljust(width)}  {url}" for label, url in urls.items()]
    lines += ["", "Point the MLflow client at the registry API:"]
    lines.append(f"  export MLFLOW_TRACKING_URI={shlex.quote(urls['tracking URI'])}")
    if token is not None:
        lines.append(f"  export MLFLOW_TRACKING_TOKEN={shlex.quote(token)}")
    return "\n".join(lines)
