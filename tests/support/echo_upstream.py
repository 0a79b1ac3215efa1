"""A recording stand-in for MLflow, for tests that must see exactly what reached the upstream."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

# A header value in UTF-8, as an artifact's file name can make it (written as the bytes).
UTF8_DISPOSITION = 'attachment; filename="café ☃.txt"'.encode()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, list[str]]
    body: bytes


@dataclass
class EchoUpstream:
    url: str
    received: list[Received] = field(default_factory=list)

    def last(self) -> Received:
        return self.received[-1]

    def count(self, path: str) -> int:
        return sum(1 for request in self.received if request.path == path)


def _handler(record: EchoUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while (size := int(self.rfile.readline().strip(), 16)) > 0:
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(
            self, status: int, body: bytes, content_type: str, disposition: bytes = b""
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if disposition:  # send_header writes latin-1: this puts the bytes on the wire
                self.send_header("Content-Disposition", disposition.decode("latin-1"))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "keep-alive, X-Upstream-Private")
            self.send_header("X-Upstream-Private", "hop-by-hop by Connection")
            self.send_header("Keep-Alive", "timeout=5")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self) -> None:
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            received = Received(self.command, self.path, headers, self._body())
            record.received.append(received)
            if self.path == "/health":
                return self._answer(200, b"OK", "text/plain")
            if self.path == "/version":
                return self._answer(200, b"9.9.9", "text/plain")
            if self.path.startswith("/slow"):
                time.sleep(3)
            if self.path == "/utf8-header":
                return self._answer(200, b"{}", "application/json", UTF8_DISPOSITION)
            if self.path == "/truncated":  # the head, part of the body, then the end
                self.send_response(200)
                self.send_header("Content-Length", "10")
                self.end_headers()
                self.wfile.write(b"{}")
                self.close_connection = True
                return None
            if self.path.startswith("/html404"):
                return self._answer(404, b"<html>Not Found</html>", "text/html; charset=utf-8")
            echo: dict[str, object] = {
                "method": received.method,
                "path": received.path,
                "body_length": len(received.body),
            }
            if padding := parse_qs(urlsplit(received.path).query).get("pad"):
                echo["pad"] = "x" * int(padding[0])  # an answer large enough to be streamed
            return self._answer(200, json.dumps(echo).encode(), "application/json")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    return Handler


@contextmanager
def echo_upstream() -> Iterator[EchoUpstream]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    record = EchoUpstream(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(record)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoUpstream]:
    """The recording upstream, one per test module."""
    with echo_upstream() as upstream:
        yield upstream
