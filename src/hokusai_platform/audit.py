"""The audit log: one JSON line per authenticated request (a request to the key admin API also
says which action it took on which key), and one per change made with
`hokusai keys|grants|teams`, to stderr or to a file.

Lines are gathered for at most `FLUSH_SECONDS` and written in writes of whole lines: a write
per request (and the logging module's per-record machinery) cost more than the rest of the
key check. The lines of every worker process stay whole: a file is opened for appending
(O_APPEND), and on stderr, a pipe the workers share, no write passes PIPE_BUF
(`logs.whole_line_writes`). What is still gathered is written when the gateway stops.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import time
from collections.abc import Mapping

from hokusai_platform import logs

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


class AuditLog:
    def __init__(self, sink: str) -> None:
        """`sink` is "stderr" or the path of a file to append to."""
        self._owned = sink != "stderr"
        self._fd = _open(sink) if self._owned else sys.stderr.fileno()
        self._pending: list[str] = []
        self._flush_scheduled = False

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
        if action is not None:
            entry.update(action)
        self._pending.append(logs.json_line(entry) + "\n")
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        for data in logs.whole_line_writes(line.encode() for line in pending):
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        self.flush()
        if self._owned:
            os.close(self._fd)
