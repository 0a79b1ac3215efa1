"""What a person reads: progress, the status table, the URLs to use and the lines to paste."""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

COLUMNS = ("SERVICE", "PID", "ADDRESS", "DNS NAME", "HEALTH", "UPTIME")
PROGRESS_EVERY = 5.0  # seconds between progress lines when the output is not a terminal


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
        lines += ["", "Open the MLflow UI logged in as the local admin (a one-time link):"]
        lines.append("  hokusai login-link")
    return "\n".join(lines)


class Console:
    """Progress and events for a person: a ticking line on a terminal, plain lines in a log."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last_progress = 0.0

    def say(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()

    def event(self, text: str) -> None:
        self.say(f"[{time.strftime('%H:%M:%S')}] {text}")

    def progress(self, label: str, elapsed: float) -> None:
        every = 1.0 if self._tty else PROGRESS_EVERY
        if elapsed - self._last_progress < every:
            return
        self._last_progress = elapsed
        if self._tty:
            self._stream.write(f"\r  {label} … {elapsed:.0f}s ")
            self._stream.flush()
        else:
            self.say(f"  {label} … {elapsed:.0f}s")

    def done(self, label: str, elapsed: float) -> None:
        if self._tty:
            self._stream.write("\r")
        self._last_progress = 0.0
        self.say(f"  {label} … ready in {elapsed:.1f}s")
