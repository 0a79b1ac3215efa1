"""JSON structured logs: one object per line on stderr.

The gateway writes one line per request, so formatting is on its hot path: orjson serialises,
and the record fields no line uses (caller's file and line, thread, process) are not gathered.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

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
