"""The access log: one JSON line per request (id, method, path, status, bytes, upstream, ms).

With the standard log configuration the line is written here directly, byte for byte what
the logging module would write: its per-record machinery (LogRecord, handler lock, filters)
cost about a fifth of the gateway's CPU time per proxied request (BENCHMARKS.md).

Lines are written in batches (`logs.BatchedLines`): every `BATCH_LINES` requests, and at most
`FLUSH_SECONDS` after a request was logged (at MLflow's pace, a line formatted on its own cost
several times as much as one formatted with its batch), with a system call per batch, not per
line. A worker that stops writes its batch; one killed outright loses at most its last second
of lines.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from hokusai_platform import logs

_logger = logging.getLogger("hokusai.access")

BATCH_LINES = 16  # formatted together, while the formatting code is hot
FLUSH_SECONDS = 1.0

# A line's fields after the logging module's own, in order: AccessLog.write's arguments
# (`_line` spells them out; a test holds the two ways of writing a line to the same fields).
FIELDS = ("request_id", "method", "path", "status", "bytes_in", "bytes_out", "upstream", "ms")
# What a request leaves for its line: its time, then its FIELDS.
_Entry = tuple[float, str, str, str, int, int, int, str | None, float]


class AccessLog(logs.BatchedLines[_Entry]):
    batch_lines = BATCH_LINES
    flush_seconds = FLUSH_SECONDS

    def __init__(self) -> None:
        super().__init__()
        # Decided once per worker: logging is configured before the gateway is created.
        self._stream = logs.direct_stream(_logger)

    def write(
        self,
        request_id: str,
        method: str,
        path: str,
        status: int,
        bytes_in: int,
        bytes_out: int,
        upstream: str | None,
        ms: float,
    ) -> None:
        """Log one request: its values now, its line with the batch's."""
        entry = (time.time(), request_id, method, path, status, bytes_in, bytes_out, upstream, ms)
        if self._stream is None:
            _logger.info("request", extra=dict(zip(FIELDS, entry[1:], strict=True)))
            return
        # BatchedLines.add, inlined: a call more per request is what bench/bytecodes.py counts.
        self._pending.append(entry)
        if len(self._pending) >= BATCH_LINES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def _emit(self, data: bytes) -> None:
        stream = self._stream
        assert stream is not None  # without it, nothing is added
        stream.write(data.decode())
        stream.flush()  # one system call each: a buffered stream could join two

    @staticmethod
    def _line(entry: _Entry) -> bytes:
        """The line the logging module would write (`logs.JSONFormatter`), newline included.

        The fields are spelt out, not zipped with FIELDS: this runs for every request."""
        ts, request_id, method, path, status, bytes_in, bytes_out, upstream, ms = entry
        return orjson.dumps(
            {
                "ts": round(ts, 3),
                "level": "INFO",
                "logger": "hokusai.access",
                "msg": "request",
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "upstream": upstream,
                "ms": ms,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
