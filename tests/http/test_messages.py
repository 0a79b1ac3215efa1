"""Answers as they go on the wire."""

from __future__ import annotations

from hokusai_platform.http.messages import Response


def test_a_relayed_head_keeps_the_fields_as_they_came_and_adds_the_extra_ones() -> None:
    upstream = b"content-length: 6\r\ncontent-type: text/plain\r\n"
    answer = Response(status=200, body=b"3.17.0", fields=upstream)
    answer.extra = [("X-Request-ID", "rid-1")]
    head = answer.head(keep_alive=True)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n" + upstream + b"X-Request-ID: rid-1\r\nDate: ")
    assert head.endswith(b" GMT\r\n\r\n")
    assert head.count(b"ength: ") == 1


def test_a_head_made_here_states_the_length_and_lets_the_extra_fields_win() -> None:
    answer = Response(status=404, body=b"{}", content_type="application/json")
    answer.headers["X-Request-ID"] = "made-by-a-handler"
    answer.extra = [("X-Request-ID", "rid-1")]
    head = answer.head(keep_alive=False)
    status_line, block = head.split(b"\r\n", 1)
    assert status_line == b"HTTP/1.1 404 Not Found"
    fields = [tuple(line.decode().split(": ", 1)) for line in block[:-4].split(b"\r\n")]
    assert [name for name, _ in fields] == [
        "Content-Type",
        "X-Request-ID",
        "Content-Length",
        "Date",
        "Connection",
    ]
    assert ("X-Request-ID", "rid-1") in fields
    assert ("Content-Length", "2") in fields
    assert ("Connection", "close") in fields
