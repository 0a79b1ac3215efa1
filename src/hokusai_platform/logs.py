"""JSON structured logs: one object per line on stderr.

The gateway writes one line per request, so formatting is on its hot path: orjson serialises,
and the record fields no line uses (caller's file and line, thread, process) are not gathered.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Generic, TextIO, TypeVar

import orjson

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json_line(entry)


def json_line(entry: dict[str, object]) -> str:
    """One log line's text (without the newline); what cannot be serialised is str()-ed."""
    return orjson.dumps(entry, default=str).decode()


# Linux: a write of at most this many bytes to a pipe is never split by other writers'.
PIPE_BUF = 4096


def whole_line_writes(lines: Iterable[bytes]) -> Iterator[bytes]:
    """`lines` (each ending with its newline), joined in order into writes of at most PIPE_BUF
    bytes. The workers share one stderr pipe, and a longer write to it may be split, so two
    workers' lines could interleave. A line longer than PIPE_BUF goes out alone."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if batch and size + len(line) > PIPE_BUF:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    if batch:
        yield b"".join(batch)


Entry = TypeVar("Entry")


class BatchedLines(Generic[Entry]):
    """A log whose lines are written together, as nginx's buffered access log is.

    An entry leaves its values; its line is formatted with the batch's (while the formatting
    code is hot) every `batch_lines` entries, and at most `flush_seconds` after an entry came,
    in whole-line writes of at most PIPE_BUF (`whole_line_writes`). A subclass says how an
    entry becomes a line (`_line`) and where the bytes go (`_emit`); whoever owns the log
    flushes it when stopping.
    """

    batch_lines: int
    flush_seconds: float

    def __init__(self) -> None:
        self._pending: list[Entry] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, entry: Entry) -> None:
        self._pending.append(entry)
        if len(self._pending) >= self.batch_lines:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.flush_seconds, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        for data in whole_line_writes(map(self._line, self._pending)):
            self._emit(data)
        self._pending.clear()

    def _line(self, entry: Entry) -> bytes:
        """The entry's line, newline included."""
        raise NotImplementedError

    def _emit(self, data: bytes) -> None:
        raise NotImplementedError


def direct_stream(logger: logging.Logger) -> TextIO | None:
    """The stream `logger`'s INFO records reach, if that is only `configure()`'s JSON handler.

    A caller that logs on every request may then write its line there itself, the same bytes
    at a fraction of the logging module's per-record cost; any other configuration (handlers,
    filters, levels) returns None and keeps logging in charge.
    """
    if not logger.isEnabledFor(logging.INFO):
        return None
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:
        if node.handlers or node.filters or not node.propagate:
            return None
        node = node.parent
    root = logging.getLogger()
    if len(root.handlers) != 1 or root.filters:
        return None
    handler = root.handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or not isinstance(handler.formatter, JSONFormatter)
        or handler.filters
        or handler.level > logging.INFO
    ):
        return None
    stream: TextIO = handler.stream
    return stream


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime
    # Documented switches (logging's "Optimization" section) for data no line includes.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
