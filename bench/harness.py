"""What the benchmarks share: required tools, nginx configurations, wrk runs, real servers.

The server processes come from the test suite's `tests/support/processes.py`, so the benchmarks
start MLflow and the gateway exactly as the tests do.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.processes import (
    MLFLOW_START_TIMEOUT,
    Server,
    free_port,
    gateway_server,
    mlflow_server,
    wait_for_http,
)

__all__ = [
    "Run",
    "Server",
    "WrkResult",
    "children",
    "cpu_figures",
    "cpu_seconds",
    "free_port",
    "interpreter",
    "measure",
    "median",
    "median_or_dash",
    "median_ratio",
    "mlflow_workers",
    "nginx_proxy",
    "nginx_static",
    "require",
    "running",
    "start_gateway",
    "start_mlflow",
    "total_cpu_seconds",
    "verdict",
    "wrk",
]


def require(*tools: str) -> None:
    """Exit 2 naming what is missing and how to install it; nothing is installed silently."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        print(
            f"bench: missing {', '.join(missing)}; install with: apt-get install {' '.join(tools)}",
            file=sys.stderr,
        )
        sys.exit(2)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


_NGINX_COMMON = """
daemon off;
master_process on;
worker_processes {workers};
user root;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    {http}
}}
"""


def _nginx(directory: Path, http: str, workers: int | None = None) -> Server:
    """nginx serving `http`, with `workers` worker processes (default: one per CPU)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(_NGINX_COMMON.format(dir=directory, http=http, workers=workers or "auto"))
    nginx = shutil.which("nginx") or "nginx"
    return Server(argv=[nginx, "-c", str(config), "-p", str(directory)], log=directory / "out.log")


def nginx_static(directory: Path, port: int) -> Server:
    """The fastest upstream there is: `return 200` with a short body."""
    return _nginx(
        directory,
        f"""access_log off;
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;
        location / {{ default_type text/plain; return 200 "3.17.0"; }}
    }}""",
    )


def nginx_proxy(
    directory: Path, port: int, upstream_port: int, *, workers: int | None = None
) -> Server:
    """nginx as a keep-alive reverse proxy, logging every request like the gateway does."""
    return _nginx(
        directory,
        f"""access_log {directory}/access.log combined buffer=64k;
    upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host 127.0.0.1:{upstream_port};
            proxy_request_buffering off;
            proxy_buffering off;
            client_max_body_size 0;
        }}
    }}""",
        workers,
    )


def start_mlflow(directory: Path, port: int, workers: int) -> Server:
    server = mlflow_server(directory, port)
    argv = list(server.argv)
    argv[argv.index("--workers") + 1] = str(workers)
    server.argv = argv
    server.start()
    wait_for_http(
        f"http://127.0.0.1:{port}/health",
        timeout=MLFLOW_START_TIMEOUT,
        process=server.process,
        log=server.log,
    )
    return server


def start_gateway(log: Path, port: int, env: Mapping[str, str]) -> Server:
    server = gateway_server(log, port, env).start()
    wait_for_http(
        f"http://127.0.0.1:{port}/health/live", timeout=30, process=server.process, log=server.log
    )
    return server


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def wrk(
    url: str, *, connections: int, seconds: int, headers: Mapping[str, str] | None = None
) -> WrkResult:
    threads = min(connections, 2)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in (headers or {}).items():
        argv[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if rate is None or p50 is None or p99 is None:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(
        float(rate.group(1)), _milliseconds(p50.group(1)), _milliseconds(p99.group(1)), errors
    )


def interpreter() -> str:
    """The Python every server of a bench runs on, and how its core is linked.

    Every CPU figure depends on the interpreter's build: pyenv's default one (no profile-guided
    or link-time optimisation, libpython a shared library) costs the gateway about a fifth more
    CPU per request than Debian's (both, libpython in the executable); see bench/NOTES.md."""
    maps = Path("/proc/self/maps").read_text().splitlines()
    shared = next((line.split()[-1] for line in maps if "/libpython" in line), None)
    linkage = f"libpython shared ({shared})" if shared else "libpython in the executable"
    return f"python {platform.python_version()} at {os.path.realpath(sys.executable)}, {linkage}"


def verdict(value: float, target: float, *, at_most: bool = False) -> str:
    """ "met" when `value` reaches `target` (from below, or `at_most` it), else "MISSED"."""
    met = value <= target if at_most else value >= target
    return "met" if met else "MISSED"


def median(values: list[float]) -> float:
    return statistics.median(values)


def children(pid: int) -> list[int]:
    """A process's direct children (Linux /proc)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def total_cpu_seconds(pids: list[int]) -> float:
    """CPU time several processes have used so far, together."""
    return sum(cpu_seconds(pid) for pid in pids)


@dataclass(frozen=True)
class Run:
    result: WrkResult
    proxy_cpu_us: float | None  # the proxy's CPU time per request; None for a direct run
    mlflow_cpu_us: float | None  # MLflow's workers' CPU time per request; None for static runs
    mlflow_cores: float | None  # how many cores MLflow's workers kept busy, on average
    repeats: int  # lopsided runs thrown away before this one


LOPSIDED_REPEATS = 3


def measure(
    url: str, connections: int, seconds: int, mlflow: list[int], proxy: Server | None
) -> Run:
    """One wrk run, with MLflow's and the proxy's CPU time per request (Linux /proc).

    MLflow's workers share one listening socket, and a burst of new connections is sometimes
    accepted by one worker alone: that run measures half an MLflow, whoever the client is. A
    concurrent run in which one worker did less than half the work of another is repeated (up
    to LOPSIDED_REPEATS times); the returned run counts the repeats."""
    repeats = 0
    while True:
        # Looked up each time: nginx forks its workers after it starts, and the gateway
        # replaces a worker that dies.
        proxy_processes = _process_and_children(proxy) if proxy is not None else []
        before = [cpu_seconds(pid) for pid in mlflow]
        proxy_before = total_cpu_seconds(proxy_processes)
        result = wrk(url, connections=connections, seconds=seconds)
        proxy_used = total_cpu_seconds(proxy_processes) - proxy_before
        used = [cpu_seconds(pid) - start for pid, start in zip(mlflow, before, strict=True)]
        # One connection keeps one worker busy: only concurrent runs can be lopsided.
        lopsided = connections > 1 and len(used) > 1 and min(used) < max(used) / 2
        if not lopsided or repeats == LOPSIDED_REPEATS:
            requests = result.requests_per_second * seconds
            return Run(
                result,
                proxy_cpu_us=_per_request(proxy_used, requests) if proxy_processes else None,
                mlflow_cpu_us=_per_request(sum(used), requests) if used else None,
                mlflow_cores=sum(used) / seconds if used else None,
                repeats=repeats,
            )
        repeats += 1


def cpu_figures(run: Run) -> str:
    """A run's CPU figures for its progress line: MLflow's, where watched, and the proxy's."""
    text = ""
    if run.mlflow_cpu_us is not None and run.mlflow_cores is not None:
        text += f"  MLflow {run.mlflow_cpu_us:.0f} µs/req on {run.mlflow_cores:.2f} cores"
    if run.proxy_cpu_us is not None:
        text += f"  proxy {run.proxy_cpu_us:.0f} µs/req"
    return text


def round_ratios(over: list[Run], under: list[Run]) -> list[float]:
    """Per-round throughput ratios of two targets measured in the same rounds."""
    return [
        run.result.requests_per_second / base.result.requests_per_second
        for run, base in zip(over, under, strict=True)
    ]


def median_ratio(over: list[Run], under: list[Run]) -> float:
    return median(round_ratios(over, under))


def median_or_dash(values: list[float | None], digits: int = 0) -> str:
    """The median of the known values, or "-" where none is (a direct run has no proxy)."""
    known = [value for value in values if value is not None]
    return f"{median(known):.{digits}f}" if known else "-"


def _per_request(cpu_seconds_used: float, requests: float) -> float | None:
    return cpu_seconds_used / requests * 1e6 if requests else None


def _process_and_children(server: Server) -> list[int]:
    """A started server's processes: nginx's master and workers, the gateway's workers."""
    assert server.process is not None
    return [server.process.pid, *children(server.process.pid)]


def mlflow_workers(pid: int) -> list[int]:
    """The processes that serve MLflow's requests: uvicorn's workers under `mlflow server`."""
    workers, pending = [], [pid]
    while pending:
        for child in children(pending.pop()):
            pending.append(child)
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
    return workers
