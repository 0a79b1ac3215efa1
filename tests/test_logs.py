"""Whole-line writes: what keeps the workers' lines apart on the stderr pipe they share."""

from __future__ import annotations

from itertools import pairwise

from hokusai_platform.logs import PIPE_BUF, whole_line_writes


def test_lines_are_joined_in_order_into_full_writes_of_at_most_a_pipes_atomic_size() -> None:
    lines = [b"%d %s\n" % (number, b"x" * (number % 300)) for number in range(400)]
    lines.insert(123, b"long " + b"y" * (2 * PIPE_BUF) + b"\n")

    writes = list(whole_line_writes(lines))

    assert b"".join(writes) == b"".join(lines)
    for data in writes:
        assert data.endswith(b"\n")
        assert len(data) <= PIPE_BUF or data.count(b"\n") == 1  # an over-long line goes alone
    for data, following in pairwise(writes):
        first_line = following.split(b"\n", 1)[0] + b"\n"
        assert len(data) + len(first_line) > PIPE_BUF  # no write left room for the next line


def test_no_lines_make_no_write() -> None:
    assert list(whole_line_writes([])) == []
