"""HTTP/1.1 written by hand on a socket, for tests that must control every byte on the wire."""

from __future__ import annotations

import socket
from typing import BinaryIO
from urllib.parse import urlsplit


def connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def read_response(stream: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    """One response from the stream: status, headers (lower-case names), body."""
    status = int(stream.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return status, headers, body


def assert_closed(sock: socket.socket) -> None:
    sock.settimeout(5)
    assert sock.recv(1024) == b""
