"""The audit log: every worker's lines whole, in order, all written by a flush."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from hokusai_platform.audit import AuditLog
from hokusai_platform.logs import PIPE_BUF


def _record_many(sink: str, count: int) -> None:
    async def record() -> None:
        audit = AuditLog(sink)
        for number in range(count):
            audit.record(
                request_id=f"r{number}",
                key_id="k1",
                scope="read",
                method="GET",
                route_family="experiments",
                status=200,
                bytes_in=0,
                bytes_out=6,
                latency_ms=0.5,
            )
        audit.close()

    asyncio.run(record())


@contextlib.contextmanager
def stderr_keeping_each_write_apart() -> Iterator[socket.socket]:
    """The stderr descriptor (pytest's capture file while it captures) replaced by a packet
    socket, whose reader gets every write as one message."""
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stderr = sys.stderr.fileno()
    saved = os.dup(stderr)
    os.dup2(writer.fileno(), stderr)
    try:
        yield reader
    finally:
        os.dup2(saved, stderr)
        os.close(saved)
        writer.close()


def test_a_flush_appends_every_gathered_line_whole_and_in_order(tmp_path: Path) -> None:
    sink = tmp_path / "audit.log"
    sink.write_text('{"earlier": true}\n')

    _record_many(str(sink), 300)

    lines = [json.loads(line) for line in sink.read_text().splitlines()]
    assert lines[0] == {"earlier": True}
    assert [line["request_id"] for line in lines[1:]] == [f"r{number}" for number in range(300)]


def test_on_stderr_no_write_passes_what_a_shared_pipe_keeps_whole() -> None:
    with stderr_keeping_each_write_apart() as reader:
        _record_many("stderr", 300)
        reader.setblocking(False)
        writes = []
        with contextlib.suppress(BlockingIOError):
            while True:
                writes.append(reader.recv(1 << 20))

    assert len(writes) > 1
    assert all(len(data) <= PIPE_BUF and data.endswith(b"\n") for data in writes)
    ids = [json.loads(line)["request_id"] for line in b"".join(writes).splitlines()]
    assert ids == [f"r{number}" for number in range(300)]
