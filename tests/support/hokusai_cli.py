"""The `hokusai` command line as the tests run it: a real process, given only a keys database."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.processes import executable


def hokusai(
    database_url: str, *args: str, audit_log: Path | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    """`hokusai *args`; `variables` are more of its environment (HOKUSAI_URL, …)."""
    env = {"HOKUSAI_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", **variables}
    if audit_log is not None:
        env["HOKUSAI_AUDIT_LOG"] = str(audit_log)
    return subprocess.run(
        [executable("hokusai"), *args], capture_output=True, text=True, timeout=60, env=env
    )


def assert_one_error_line(answer: subprocess.CompletedProcess[str], message: str) -> None:
    """A failure told in one `Error: …` line that says `message`, and no traceback."""
    assert answer.returncode != 0
    errors = [line for line in answer.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0], answer.stderr
    assert "Traceback" not in answer.stderr
