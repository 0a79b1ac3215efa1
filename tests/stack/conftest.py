from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.stack import Up

from hokusai_platform.stack.leftovers import stop_leftovers


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator[Any]:
    """Start `hokusai up` processes; whatever a test leaves running is stopped afterwards."""
    started: list[Up] = []

    def start(data_dir: Path | None = None, ports: dict[str, int] | None = None) -> Up:
        up = Up.start(data_dir or tmp_path / "data", ports)
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()
        stop_leftovers(up.data_dir / "stack.json", up.data_dir)  # after a failed test, too
