"""The access log: one JSON line per request (id, method, path, status, bytes, upstream, ms).

With the standard log configuration the line is written here directly, byte for byte what
the logging module would write: its per-record machinery (LogRecord, handler lock, filters)
cost about a fifth of the gateway's CPU time per proxied request (BENCHMARKS.md).

Lines are written in batches, as nginx's buffered access log is: once a batch would pass
`BATCH_BYTES`, and at most `FLUSH_SECONDS` after a line was logged, so a gateway at any pace
makes a system call per batch, not per line. A batch of lines never passes PIPE_BUF (4 KiB),
so the workers that share one stderr pipe write whole lines, never interleaved ones. A
worker that stops writes its batch; one killed outright loses at most its last second of lines.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from hokusai_platform import logs

_logger = logging.getLogger("hokusai.access")

BATCH_BYTES = 4096  # PIPE_BUF on Linux: a larger write to a pipe may be split
FLUSH_SECONDS = 1.0


class AccessLog:
    def __init__(self) -> None:
        # Decided once per worker: logging is configured before the gateway is created.
        self._stream = logs.direct_stream(_logger)
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._timer: asyncio.TimerHandle | None = None

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
        """One request's line (one dict, built once: this runs for every request)."""
        if self._stream is None:
            fields = {
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "upstream": upstream,
                "ms": ms,
            }
            _logger.info("request", extra=fields)
            return
        line = orjson.dumps(
            {
                "ts": round(time.time(), 3),
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
        if self._pending_bytes + len(line) > BATCH_BYTES:
            self.flush()  # a line longer than a batch goes out alone
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
        self._pending.append(line.decode())
        self._pending_bytes += len(line)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stream is not None and self._pending:
            self._stream.write("".join(self._pending))
            self._stream.flush()
            self._pending.clear()
            self._pending_bytes = 0
