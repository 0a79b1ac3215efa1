"""The access log's batches: whole lines, in order, within a pipe's atomic write, on time."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Iterator

from hokusai_platform.gateway.access_log import FLUSH_SECONDS, AccessLog
from hokusai_platform.logs import PIPE_BUF, JSONFormatter


class RecordingStream(io.StringIO):
    """A text stream that keeps each write apart, as a pipe would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@contextlib.contextmanager
def logging_to(stream: RecordingStream) -> Iterator[None]:
    """The root logger configured as `logs.configure` does, writing to `stream` (set inside
    the test: pytest adds its own handler to the root logger for the test's call)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _request(number: int) -> tuple[str, str, str, int, int, int, str, float]:
    path = "/api/mlflow/ünïcode/" + "x" * 90
    return (f"r{number}", "GET", path, 200, 0, 6, "127.0.0.1:5000", 0.5)


def test_lines_go_out_whole_in_order_and_in_batches_no_larger_than_a_pipe_writes_at_once() -> None:
    stream = RecordingStream()

    async def log_many() -> None:
        access_log = AccessLog()
        for number in range(200):
            access_log.write(*_request(number))
        access_log.flush()

    with logging_to(stream):
        asyncio.run(log_many())

    assert 1 < len(stream.writes) < 200
    for batch in stream.writes:
        assert batch.endswith("\n")
        assert len(batch.encode()) <= PIPE_BUF
    ids = [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()]
    assert ids == [f"r{number}" for number in range(200)]


def test_a_lone_line_is_written_within_the_flush_period() -> None:
    stream = RecordingStream()

    async def log_one() -> list[str]:
        access_log = AccessLog()
        access_log.write(*_request(1))
        written_at_once = stream.getvalue().splitlines()
        await asyncio.sleep(FLUSH_SECONDS + 0.2)
        return written_at_once

    with logging_to(stream):
        assert asyncio.run(log_one()) == []
    assert json.loads(stream.getvalue())["request_id"] == "r1"


def test_a_line_written_directly_is_the_line_the_logging_module_would_write() -> None:
    direct, through_logging = RecordingStream(), RecordingStream()
    request = ("r1", "POST", "/api/mlflow/ünïcode", 201, 12, 34, None, 1.25)

    async def log_once() -> None:
        access_log = AccessLog()
        access_log.write(*request)
        access_log.flush()

    with logging_to(direct):
        asyncio.run(log_once())
    with logging_to(through_logging):
        logging.getLogger().handlers[0].addFilter(lambda record: True)  # not the plain setup
        asyncio.run(log_once())

    lines = [json.loads(stream.getvalue()) for stream in (direct, through_logging)]
    assert len(direct.writes) == 1 and len(through_logging.writes) == 1
    for line in lines:
        del line["ts"]
    assert lines[0] == lines[1]
    fields = "level logger msg request_id method path status bytes_in bytes_out upstream ms"
    assert [list(line) for line in lines] == [fields.split()] * 2
