"""Time from `make up` in a fresh clone to a healthy stack (issue 6: under 30 s).

What is timed is what a newcomer waits for once dependencies are installed: the README's first
command, `make up`, run in a fresh `git clone` of this repository, until every service is
healthy and the gateway's `/health` says MLflow is reachable through it.

Dependencies are not downloaded again. The clone gets its own `.venv` (`python -m venv`) and,
written directly, what `pip install --no-deps -e <clone>` would add to it: a `.pth` file putting
the clone's `src` on the path and the `hokusai` script; one more `.pth` file names this
checkout's `.venv` site-packages, where the dependencies are. (pip itself is not used: an
editable build would need setuptools' wheel support from PyPI.) Make's stamp is then newer than
pyproject.toml, so `make up` goes straight to `hokusai up` from the clone's code.

Each run is "cold" (empty data dir: MLflow creates its database) or "warm" (the data dir of
the previous run, as after `hokusai down`). Ports are free ones, passed through `UP_ARGS`.

Usage: .venv/bin/python bench/stack_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.processes import free_port

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 180.0


def prepare_clone(workdir: Path) -> Path:
    clone = workdir / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    venv = clone / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = Path(sysconfig.get_paths(vars={"base": str(venv)})["purelib"])
    # What `pip install -e` would write: the clone's source on the path, and the script.
    (site_packages / "hokusai-clone.pth").write_text(f"{clone / 'src'}\n")
    (site_packages / "reuse-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = venv / "bin" / "hokusai"
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nfrom hokusai_platform.cli import main\n\nmain()\n"
    )
    script.chmod(0o755)
    (venv / ".installed").touch()  # the Makefile's stamp: dependencies are in place
    return clone


def healthy(gateway_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/health", timeout=2) as r:
            return bool(json.load(r)["dependencies"]["mlflow"]["status"] == "healthy")
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return False


def time_make_up(clone: Path) -> dict[str, float]:
    """Run `make up` until healthy; Ctrl-C it (SIGINT to its process group); return timings."""
    ports = {"gateway": free_port(), "mlflow": free_port(), "redis": free_port()}
    up_args = " ".join(f"--{name}-port={port}" for name, port in ports.items())
    output = clone / "make-up.out"
    with output.open("w") as sink:
        started = time.monotonic()
        make = subprocess.Popen(
            ["make", "up", f"UP_ARGS={up_args}"],
            cwd=clone,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while "export MLFLOW_TRACKING_URI=" not in output.read_text() or not healthy(
            ports["gateway"]
        ):
            if make.poll() is not None or time.monotonic() - started > READY_TIMEOUT:
                raise RuntimeError(f"make up did not become healthy:\n{output.read_text()}")
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        os.killpg(make.pid, signal.SIGINT)
        make.wait(60)
    text = output.read_text()
    ready = dict(re.findall(r"^\s+(\S+(?: API)?) on \S+ … ready in ([\d.]+)s", text, re.M))
    return {
        "healthy": elapsed,
        "mlflow": float(ready["MLflow"]),
        "redis": float(ready.get("Redis", "nan")),
        "api": float(ready["registry API"]),
    }


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {python}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="cold and warm starts each")
    runs = parser.parse_args().runs
    if shutil.which("make") is None:
        sys.exit("bench: make is not installed (apt-get install make)")
    results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-") as workdir:
        clone = prepare_clone(Path(workdir))
        for _ in range(runs):
            shutil.rmtree(clone / ".hokusai", ignore_errors=True)
            for kind in ("cold", "warm"):
                results[kind].append(time_make_up(clone))
                print(f"{kind}: {results[kind][-1]}", file=sys.stderr)
    print("| start | runs | `make up` → healthy (median, max) | MLflow | Redis | registry API |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, timings in results.items():
        total = [t["healthy"] for t in timings]

        def median(key: str, timings: list[dict[str, float]] = timings) -> str:
            return f"{statistics.median(t[key] for t in timings):.1f} s"

        print(
            f"| {kind} | {len(timings)} | {statistics.median(total):.1f} s, {max(total):.1f} s "
            f"| {median('mlflow')} | {median('redis')} | {median('api')} |"
        )
    command = f"python bench/stack_startup.py --runs {runs}"
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"\n`{command}`, {time.strftime('%Y-%m-%d')}, {machine()}; {load}")


if __name__ == "__main__":
    main()
