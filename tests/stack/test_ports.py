"""A port in use fails `up` at once, naming the port, the process holding it and the option."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from support.processes import executable, free_port

from hokusai_platform.stack.ports import port_holder


def test_up_names_the_port_in_use_and_its_holder(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                executable("hokusai"),
                "up",
                f"--data-dir={tmp_path}",
                f"--mlflow-port={port}",
                f"--gateway-port={free_port()}",
                f"--redis-port={free_port()}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"MLflow: tcp port {port} is already in use by pid {os.getpid()} (" in result.stderr
    assert "choose another port with --mlflow-port" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "stack.json").exists()


def test_a_udp_port_holder_is_found_too() -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert port_holder(port, "udp") == port_holder(port, "udp")
        holder = port_holder(port, "udp")
    assert holder is not None and holder.startswith(f"pid {os.getpid()} (")
    assert port_holder(port, "udp") is None
