"""Terraform layer: does the live environment still match its state? (`plan -refresh-only`)

Drift is what the outage was: a resource changed outside Terraform. A refresh-only plan
reports each drifted resource without proposing to change anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.runner import Skip

# The check's deadline: Terraform reads the state and refreshes every resource, which is
# slower than any other check.
TIMEOUT_SECONDS = 120.0
NO_CHANGES, CHANGES = 0, 2  # -detailed-exitcode


async def _plan(directory: str) -> tuple[int, list[dict[str, object]]]:
    process = await asyncio.create_subprocess_exec(
        "terraform",
        f"-chdir={directory}",
        "plan",
        "-refresh-only",
        "-detailed-exitcode",
        "-input=false",
        "-lock=false",
        "-no-color",
        "-json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    messages = []
    for line in output.decode(errors="replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            message = json.loads(line)
            if isinstance(message, dict):
                messages.append(message)
    assert process.returncode is not None
    return process.returncode, messages


def _errors(messages: list[dict[str, object]]) -> list[str]:
    found = []
    for message in messages:
        diagnostic = message.get("diagnostic")
        if message.get("@level") == "error" and isinstance(diagnostic, dict):
            found.append(f"{diagnostic.get('summary', '')} {diagnostic.get('detail', '')}".strip())
    return found


def _drifted(messages: list[dict[str, object]]) -> list[str]:
    found = []
    for message in messages:
        change = message.get("change")
        if message.get("type") == "resource_drift" and isinstance(change, dict):
            resource = change.get("resource", {})
            address = resource.get("addr", "?") if isinstance(resource, dict) else "?"
            found.append(f"{address} ({change.get('action', 'changed')})")
    return found


async def drift(context: Context) -> list[CheckResult]:
    directory = context.terraform_dir
    if directory is None or not directory.is_dir():
        raise Skip(f"no Terraform configuration for {context.expectations.environment}")
    if shutil.which("terraform") is None:
        raise Skip("terraform is not installed")
    if not (directory / ".terraform").is_dir():
        raise Skip(f"{directory} is not initialised: run `terraform init` there to reach state")
    code, messages = await _plan(str(directory))
    subject = str(directory)
    if code not in (NO_CHANGES, CHANGES):
        errors = _errors(messages)
        raise Skip("terraform could not read state: " + ("; ".join(errors) or f"exit {code}"))
    # Exit 2 alone is no evidence: a refresh that only rewrites the state's bookkeeping exits
    # 2 with "No changes". The resource_drift messages are what changed outside Terraform.
    changed = _drifted(messages)
    if not changed:
        return [CheckResult.ok("terraform.drift", subject, "the environment matches its state")]
    return [
        CheckResult.fail(
            "terraform.drift",
            subject,
            "changed outside Terraform: " + ", ".join(changed),
            hint="`terraform apply` puts the configuration back; never fix it by CLI",
        )
    ]
