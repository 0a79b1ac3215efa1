"""The audit log: one JSON line per authenticated request, to stderr or to a file.

Lines are written directly (as the access log does), not through the logging module, whose
per-record machinery would cost more than the rest of the check; each line is flushed at
once. A file is opened for appending, so every worker process's lines stay whole (O_APPEND).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from hokusai_platform import logs


class AuditLog:
    def __init__(self, sink: str) -> None:
        """`sink` is "stderr" or the path of a file to append to."""
        self._owned = sink != "stderr"
        self._stream: TextIO = (
            open(sink, "a", encoding="utf-8") if self._owned else sys.stderr  # noqa: SIM115
        )

    def record(
        self,
        *,
        request_id: str,
        key_id: str,
        scope: str,
        method: str,
        route_family: str,
        status: int,
        bytes_in: int,
        bytes_out: int,
        latency_ms: float,
    ) -> None:
        entry = {
            "ts": round(time.time(), 3),
            "logger": "hokusai.audit",
            "request_id": request_id,
            "key_id": key_id,
            "scope": scope,
            "method": method,
            "route_family": route_family,
            "status": status,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "latency_ms": latency_ms,
        }
        self._stream.write(logs.json_line(entry) + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()
