"""The audit log: one JSON line per authenticated request (a request to the key admin API also
says which action it took on which key), and one per change made with
`hokusai keys|grants|teams`, to stderr or to a file.

A request's line is written with others (`logs.BatchedLines`: every `BATCH_LINES`, at most
`FLUSH_SECONDS` later): a write per request (and the logging module's per-record machinery)
cost more than the rest of the key check. The lines of every worker process stay whole: a file
is opened for appending (O_APPEND), and on stderr, a pipe the workers share, no write passes
PIPE_BUF. What is still gathered is written when the gateway stops.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from collections.abc import Mapping

from hokusai_platform import logs

BATCH_LINES = 16
FLUSH_SECONDS = 0.2


def _open(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)


def record_change(sink: str, action: str, **fields: object) -> None:
    """One line, written at once, for a change to keys, teams or grants: what, by whom."""
    entry = {
        "ts": round(time.time(), 3),
        "logger": "hokusai.audit",
        "action": action,
        "actor": _actor(),
        **fields,
    }
    line = logs.json_line(entry) + "\n"
    if sink == "stderr":
        sys.stderr.write(line)
        sys.stderr.flush()
        return
    fd = _open(sink)
    try:
        os.write(fd, line.encode())  # one O_APPEND write: concurrent writers' lines stay whole
    finally:
        os.close(fd)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name: a container's numeric user
        return f"uid {os.getuid()}"


class AuditLog(logs.BatchedLines[dict[str, object]]):
    batch_lines = BATCH_LINES
    flush_seconds = FLUSH_SECONDS

    def __init__(self, sink: str) -> None:
        """`sink` is "stderr" or the path of a file to append to."""
        super().__init__()
        self._owned = sink != "stderr"
        self._fd = _open(sink) if self._owned else sys.stderr.fileno()

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
        action: Mapping[str, object] | None = None,
    ) -> None:
        entry: dict[str, object] = {
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
        if action is not None:
            entry.update(action)
        self.add(entry)

    @staticmethod
    def _line(entry: dict[str, object]) -> bytes:
        return (logs.json_line(entry) + "\n").encode()

    def _emit(self, data: bytes) -> None:
        while data:
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        self.flush()
        if self._owned:
            os.close(self._fd)
