"""The access log: one JSON line per request (id, method, path, status, bytes, upstream, ms).

With the standard log configuration the line is written here directly, byte for byte what
the logging module would write: its per-record machinery (LogRecord, handler lock, filters)
cost about a fifth of the gateway's CPU time per proxied request (BENCHMARKS.md). The lines of
requests that finish in the same turn of the event loop go out in one write at the end of it,
so a busy gateway does not pay one system call per line, and no line waits longer than that.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hokusai_platform import logs

_logger = logging.getLogger("hokusai.access")


class AccessLog:
    def __init__(self) -> None:
        # Decided once per worker: logging is configured before the gateway is created.
        self._stream = logs.direct_stream(_logger)
        self._pending: list[str] = []

    def write(self, fields: dict[str, object]) -> None:
        if self._stream is None:
            _logger.info("request", extra=fields)
            return
        entry: dict[str, object] = {
            "ts": round(time.time(), 3),
            "level": "INFO",
            "logger": _logger.name,
            "msg": "request",
            **fields,
        }
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(logs.json_line(entry) + "\n")

    def flush(self) -> None:
        if self._stream is not None and self._pending:
            self._stream.write("".join(self._pending))
            self._stream.flush()
            self._pending.clear()
