"""Real processes for tests: free ports, readiness waits, and servers that always get stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from hokusai_platform.keys import database

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def executable(name: str) -> str:
    """A console script from this virtualenv, else from PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (see .ci/run for how CI installs it)")
    return found


def wait_for_http(
    url: str,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll `url` until it answers 200; fail early if `process` dies."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(
                f"process exited with {process.returncode} before {url} was up\n{tail}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s: {last_error}")


@dataclass
class Server:
    """A server process started for a test, with its log file."""

    argv: Sequence[str]
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                list(self.argv),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop the whole process group (MLflow forks workers)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        except ProcessLookupError:
            pass

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def log_lines_with(self, text: str, timeout: float = 5) -> list[str]:
        """The log's lines that contain `text`, once one does (a gateway writes its access
        line after the answer, at the end of its event loop's turn)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [
                line for line in self.log.read_text(errors="replace").splitlines() if text in line
            ]
            if lines or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


def mlflow_server(
    data_dir: Path,
    port: int,
    host: str = "127.0.0.1",
    *,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Server:
    """A lean real MLflow tracking server: SQLite backend, proxied local artifact store, unless
    given a backend store (PostgreSQL) and an artifacts destination (S3), with `env` to reach
    them.

    Servers on different loopback addresses (127.0.0.x) may share one `data_dir`: they are
    then instances of one MLflow service.
    """
    return Server(
        argv=[
            executable("mlflow"),
            "server",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            backend_store_uri or f"sqlite:///{data_dir / 'mlflow.db'}",
            "--artifacts-destination",
            artifacts_destination or str(data_dir / "artifacts"),
        ],
        log=data_dir / "mlflow.log",
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})},
    )


def gateway_server(log: Path, port: int, env: Mapping[str, str]) -> Server:
    """A gateway; without keys unless `env` sets HOKUSAI_AUTH=required (see tests/security),
    and stopping at once unless `env` sets HOKUSAI_DRAIN_SECONDS (see test_drain.py)."""
    return Server(
        argv=[executable("hokusai"), "serve", "--port", str(port)],
        log=log,
        env={"HOKUSAI_WORKERS": "1", "HOKUSAI_AUTH": "off", "HOKUSAI_DRAIN_SECONDS": "0", **env},
    )


MLFLOW_START_TIMEOUT = 90


def start_mlflow(
    data_dir: Path, port: int | None = None, host: str = "127.0.0.1"
) -> tuple[Server, str]:
    port = port or free_port()
    server = mlflow_server(data_dir, port, host).start()
    url = f"http://{host}:{port}"
    wait_for_http(
        f"{url}/health", timeout=MLFLOW_START_TIMEOUT, process=server.process, log=server.log
    )
    return server, url


def start_gateway(log: Path, env: dict[str, str]) -> tuple[Server, str]:
    port = free_port()
    server = gateway_server(log, port, env).start()
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health/live", timeout=30, process=server.process, log=server.log)
    return server, url


def moto_server(log: Path, port: int) -> Server:
    """moto's stand-in for the AWS APIs (ECS, Cloud Map, ELBv2, SSM, EC2, S3, logs)."""
    return Server(argv=[executable("moto_server"), "-H", "127.0.0.1", "-p", str(port)], log=log)


def redis_server(data_dir: Path, port: int) -> Server:
    """A throwaway redis-server: no persistence, loopback only."""
    return Server(
        argv=[
            executable("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
        log=data_dir / "redis.log",
    )


def start_redis(data_dir: Path) -> tuple[Server, str]:
    port = free_port()
    server = redis_server(data_dir, port).start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return server, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    server.stop()
    raise TimeoutError(f"redis-server on port {port} not ready:\n{server.log_tail()}")


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def start_postgres(log_dir: Path) -> tuple[Server, str, Path]:
    """A throwaway PostgreSQL 15 cluster, run as the postgres user (it refuses root).

    Its data directory is outside pytest's root-only temporary tree; the caller removes it.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="hokusai-pg-"))
    shutil.chown(data_dir, "postgres", "postgres")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(POSTGRES_BIN / "initdb"), "-D", str(data_dir),
         "-U", "postgres", "--auth=trust", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    server = Server(
        argv=["runuser", "-u", "postgres", "--", str(POSTGRES_BIN / "postgres"), "-D",
              str(data_dir), "-p", str(port), "-k", str(data_dir),
              "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        log=log_dir / "postgres.log",
    ).start()  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(POSTGRES_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True,
        )
        if ready.returncode == 0:
            return server, f"postgresql://postgres@127.0.0.1:{port}/postgres", data_dir
        time.sleep(0.2)
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    raise TimeoutError(f"postgres on port {port} not ready:\n{server.log_tail()}")


def fresh_postgres_database(server_url: str, name: str) -> str:
    """The URL of database `name`, created empty (dropped first if it was there)."""
    engine = create_engine(database.normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name
