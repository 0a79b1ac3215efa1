"""Services left running by an `up` that could not stop them (SIGKILL, a crash).

Its `stack.json` outlives it and names the services' process groups. A group is stopped only
if one of its processes still works inside this data dir (every service is started there), so
a pid recycled for someone else's process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from hokusai_platform.stack.state import read_state
from hokusai_platform.stack.supervisor import STOP_TIMEOUT, group_members


def stop_leftovers(state_file: Path, data_dir: Path) -> list[int]:
    """Stop what a previous `up` from `data_dir` left running; the process groups stopped."""
    state = read_state(state_file)
    if state is None:
        return []
    home = data_dir.resolve()
    recorded = [service["pid"] for service in state.get("services", []) if service.get("pid")]
    groups = [g for g in recorded if any(_works_in(pid, home) for pid in group_members(g))]
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(group_members(g) for g in groups) and time.monotonic() < deadline:
            time.sleep(0.1)
    return groups


def _works_in(pid: int, home: Path) -> bool:
    try:
        cwd = Path(f"/proc/{pid}/cwd").readlink()
    except OSError:
        return False
    return cwd == home or home in cwd.parents
