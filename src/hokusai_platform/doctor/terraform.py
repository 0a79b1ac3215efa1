"""Terraform layer: was the live environment changed outside Terraform? (`terraform plan`)

Drift is what the outage was: a resource changed outside Terraform. A normal plan refreshes
every resource and says what it would undo; `infra.drift` keeps the drift that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.skip import Skip
from hokusai_platform.infra.drift import Streamed, drifted
from hokusai_platform.infra.layout import Environment

# The check's deadline: Terraform reads the state and refreshes every resource, which is
# slower than any other check.
TIMEOUT_SECONDS = 120.0
# -detailed-exitcode: 2 is a plan with changes, which need not be drift (a pending edit of the
# configuration is one); what drifted is read from the plan itself.
NO_CHANGES, CHANGES = 0, 2


async def _terraform(environment: Environment, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "terraform",
        f"-chdir={environment.root}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "TF_DATA_DIR": str(environment.data_dir)},
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


async def drift(context: Context) -> list[CheckResult]:
    environment = context.terraform
    if environment is None or not environment.root.is_dir():
        raise Skip(f"no Terraform configuration for {context.expectations.environment}")
    if shutil.which("terraform") is None:
        raise Skip("terraform is not installed")
    if not environment.data_dir.is_dir():
        raise Skip(
            f"{environment.name} is not initialised: run `terraform init` with "
            f"TF_DATA_DIR={environment.data_dir} to reach its state"
        )
    with tempfile.TemporaryDirectory(prefix="hokusai-doctor-") as scratch:
        plan_file = str(Path(scratch) / "doctor.tfplan")
        code, output = await _terraform(
            environment,
            "plan",
            f"-var-file={environment.variables_file}",
            "-detailed-exitcode",
            "-input=false",
            "-lock=false",
            "-json",
            f"-out={plan_file}",
        )
        streamed = Streamed.parse(output)
        if code not in (NO_CHANGES, CHANGES):
            reason = "; ".join(streamed.errors) or f"exit {code}"
            raise Skip(f"terraform could not plan: {reason}")
        changed: list[str] = []
        if streamed.may_matter:  # only then is the plan worth `show -json`'s seconds
            shown_code, shown = await _terraform(environment, "show", "-json", plan_file)
            if shown_code != 0:
                raise Skip(f"terraform show could not read the plan: {shown.strip()[:200]}")
            changed = drifted(json.loads(shown))
    subject = str(environment.directory)
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
