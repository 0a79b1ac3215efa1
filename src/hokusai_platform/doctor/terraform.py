"""Terraform layer: does the live environment still match its state? (`plan -refresh-only`)

Drift is what the outage was: a resource changed outside Terraform. A refresh-only plan
reports each drifted resource without proposing to change anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.runner import Skip

# The check's deadline: Terraform reads the state and refreshes every resource, which is
# slower than any other check.
TIMEOUT_SECONDS = 120.0
# -detailed-exitcode; 2 alone proves nothing (a refresh that only rewrites the state's
# bookkeeping exits 2 too), so the plan's resource_drift is what is reported.
NO_CHANGES, CHANGES = 0, 2


async def _terraform(directory: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "terraform",
        f"-chdir={directory}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled by the check's deadline
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def _errors(output: str) -> list[str]:
    found = []
    for line in output.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            message = json.loads(line)
            diagnostic = message.get("diagnostic") if isinstance(message, dict) else None
            if message.get("@level") == "error" and isinstance(diagnostic, dict):
                found.append(f"{diagnostic.get('summary', '')} {diagnostic.get('detail', '')}")
    return [error.strip() for error in found]


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def drifted(plan: dict[str, Any]) -> list[str]:
    """`address: attribute, …` for each resource whose remote object changed.

    The provider reads some unset values back as empty ones (`tags = {}` for null); those
    are not changes anyone made, so they are left out.
    """
    found = []
    for drift in plan.get("resource_drift", []):
        before = drift["change"].get("before") or {}
        after = drift["change"].get("after") or {}
        changed = [
            key
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
            and not (_empty(before.get(key)) and _empty(after.get(key)))
        ]
        if changed:
            found.append(f"{drift['address']}: {', '.join(changed)}")
    return found


async def drift(context: Context) -> list[CheckResult]:
    directory = context.terraform_dir
    if directory is None or not directory.is_dir():
        raise Skip(f"no Terraform configuration for {context.expectations.environment}")
    if shutil.which("terraform") is None:
        raise Skip("terraform is not installed")
    if not (directory / ".terraform").is_dir():
        raise Skip(f"{directory} is not initialised: run `terraform init` there to reach state")
    with tempfile.TemporaryDirectory(prefix="hokusai-doctor-") as scratch:
        plan_file = str(Path(scratch) / "refresh.tfplan")
        code, output = await _terraform(
            directory,
            "plan",
            "-refresh-only",
            "-detailed-exitcode",
            "-input=false",
            "-lock=false",
            "-json",
            f"-out={plan_file}",
        )
        if code not in (NO_CHANGES, CHANGES):
            errors = _errors(output)
            raise Skip("terraform could not read state: " + ("; ".join(errors) or f"exit {code}"))
        shown_code, shown = await _terraform(directory, "show", "-json", plan_file)
    if shown_code != 0:
        raise Skip(f"terraform show could not read the plan: {shown.strip()[:200]}")
    changed = drifted(json.loads(shown))
    subject = str(directory)
    if not changed:
        return [CheckResult.ok("terraform.drift", subject, "the environment matches its state")]
    return [
        CheckResult.fail(
            "terraform.drift",
            subject,
            "changed outside Terraform: " + "; ".join(changed),
            hint="`terraform apply` puts the configuration back; never fix it by CLI",
        )
    ]
