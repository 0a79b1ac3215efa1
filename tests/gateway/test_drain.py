"""SIGTERM drains: not ready at once, serving on for HOKUSAI_DRAIN_SECONDS, then stopping.

Through real sockets to a real `hokusai serve` in front of the recording upstream.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from support.echo_upstream import EchoUpstream
from support.processes import Server, start_gateway
from support.raw_http import assert_closed, connect, read_response

from hokusai_platform.settings import ConfigError, Settings

DRAIN_SECONDS = 4
DRAINING = "draining: /health/ready answers 503"  # what each process logs on SIGTERM
# An answer far larger than the socket buffers: it stays in progress until the caller reads.
LARGE_ANSWER_PAD = 32 * 1024 * 1024


Start = Callable[..., tuple[Server, str]]


@pytest.fixture
def start(echo: EchoUpstream, tmp_path: Path) -> Iterator[Start]:
    """Starts gateways (given their environment) in front of the recording upstream."""
    started: list[Server] = []

    def running(**env: str) -> tuple[Server, str]:
        log = tmp_path / f"gateway-{len(started)}.log"
        server, url = start_gateway(log, {"MLFLOW_SERVER_URL": echo.url, **env})
        started.append(server)
        return server, url

    yield running
    for server in started:
        server.stop(signal.SIGKILL)


def get(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own."""
    with connect(base) as sock, closing(sock.makefile("rb")) as stream:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        return read_response(stream)


def request_on(sock: socket.socket, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())


def log_lines(server: Server, message: str, count: int, timeout: float) -> list[str]:
    """The log lines with `message`, once there are `count` of them (or `timeout` passed)."""
    deadline = time.monotonic() + timeout
    while len(lines := server.log_lines_with(f'"msg":"{message}"', timeout=0)) < count:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return lines


def refused(base: str) -> bool:
    try:
        connect(base).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_drain_keeps_serving_then_finishes_what_is_in_progress_and_exits_0(
    start: Start, record_property: pytest.RecordProperty
) -> None:
    server, base = start(HOKUSAI_DRAIN_SECONDS=str(DRAIN_SECONDS))
    with (
        connect(base) as kept,
        closing(kept.makefile("rb")) as kept_answers,
        connect(base) as streaming,
        closing(streaming.makefile("rb")) as streamed,
    ):
        request_on(kept, "/api/mlflow/version")
        assert read_response(kept_answers)[0] == 200
        # The upstream answers after 3 s; its answer's head arrives, the body waits for us.
        request_on(streaming, f"/api/mlflow/slow?pad={LARGE_ANSWER_PAD}")
        assert streamed.peek(1)

        signalled = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        deadline = signalled + DRAIN_SECONDS
        while (ready := get(base, "/health/ready"))[0] == 200 and time.monotonic() < deadline:
            pass
        flipped_ms = round((time.monotonic() - signalled) * 1000)
        record_property("ready_503_after_sigterm_ms", flipped_ms)
        print(f"/health/ready answered 503 {flipped_ms} ms after SIGTERM")
        status, _, body = ready
        assert status == 503
        assert json.loads(body) == {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "draining"}

        # Draining: everything else is served as before, new connections included.
        status, headers, body = get(base, "/api/mlflow/version")
        assert (status, body) == (200, b"9.9.9") and "connection" not in headers
        assert get(base, "/health/live")[0] == 200
        status, _, body = get(base, "/health")
        assert status == 200 and json.loads(body)["draining"] is True

        assert log_lines(server, "stopped accepting", 1, timeout=DRAIN_SECONDS + 10)
        assert refused(base)
        # What arrives on an open keep-alive connection is answered, and told to close.
        request_on(kept, "/api/mlflow/version")
        status, headers, body = read_response(kept_answers)
        assert (status, body, headers["connection"]) == (200, b"9.9.9", "close")
        assert_closed(kept)

        # The answer in progress when the drain ended arrives whole; then the connection ends.
        status, headers, body = read_response(streamed)
        assert status == 200
        assert len(json.loads(body)["pad"]) == LARGE_ANSWER_PAD
        assert_closed(streaming)

    assert server.process is not None and server.process.wait(timeout=30) == 0


def test_an_answer_still_to_come_when_the_drain_ends_says_connection_close(start: Start) -> None:
    server, base = start(HOKUSAI_DRAIN_SECONDS="1")
    with connect(base) as sock, closing(sock.makefile("rb")) as answers:
        request_on(sock, "/api/mlflow/slow")  # the upstream answers after 3 s
        os.kill(server.pid, signal.SIGTERM)
        status, headers, _ = read_response(answers)
        assert log_lines(server, "stopped accepting", 1, timeout=0), "the drain ended first"
        assert (status, headers["connection"]) == (200, "close")
        assert_closed(sock)
    assert server.process is not None and server.process.wait(timeout=30) == 0


def test_every_worker_drains_and_the_parent_exits_0_once_all_have(start: Start) -> None:
    server, base = start(HOKUSAI_DRAIN_SECONDS=str(DRAIN_SECONDS), HOKUSAI_WORKERS="2")
    os.kill(server.pid, signal.SIGTERM)  # the parent only, as a container runtime sends it
    assert len(log_lines(server, DRAINING, 2, timeout=10)) == 2
    answers = [get(base, "/health/ready")[0] for _ in range(8)]
    assert answers == [503] * 8
    assert get(base, "/api/mlflow/version")[0] == 200
    assert server.process is not None and server.process.wait(timeout=30) == 0
    assert len(log_lines(server, "stopped", 2, timeout=0)) == 2
    assert refused(base), "no worker is left listening"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_signal_cuts_the_drain_short(start: Start, workers: int) -> None:
    server, base = start(HOKUSAI_DRAIN_SECONDS="300", HOKUSAI_WORKERS=str(workers))
    # To the whole process group, as a terminal's Ctrl-C: each worker hears it from the parent
    # too, and a signal heard twice must not count as a second one.
    os.killpg(server.pid, signal.SIGTERM)
    assert len(log_lines(server, DRAINING, workers, timeout=10)) == workers
    assert get(base, "/api/mlflow/version")[0] == 200, "still serving: the drain goes on"
    os.kill(server.pid, signal.SIGINT)
    assert server.process is not None and server.process.wait(timeout=30) == 0
    assert len(log_lines(server, "stopped", workers, timeout=0)) == workers
    assert all('"cut_short":true' in line for line in log_lines(server, "stopped", 1, timeout=0))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HOKUSAI_DRAIN_SECONDS", "-1"),
        ("HOKUSAI_DRAIN_SECONDS", "soon"),
        ("HOKUSAI_DRAIN_TIMEOUT", "-5"),
        ("HOKUSAI_DRAIN_TIMEOUT", "forever"),
    ],
)
def test_a_bad_drain_setting_is_named_in_the_error(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        Settings.from_env({"MLFLOW_SERVER_URL": "http://mlflow:5000", variable: value})


def test_a_drain_of_zero_is_allowed_and_the_defaults_fit_ecs_default_stop_timeout() -> None:
    env = {"MLFLOW_SERVER_URL": "http://mlflow:5000"}
    settings = Settings.from_env({**env, "HOKUSAI_DRAIN_SECONDS": "0"})
    assert settings.drain_seconds == 0
    defaults = Settings.from_env(env)
    assert defaults.drain_seconds + defaults.drain_timeout < 30
