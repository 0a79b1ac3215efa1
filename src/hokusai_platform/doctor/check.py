"""A check, and how checks run: concurrently, each under its own deadline, none crashing.

A check is an async function of the `Context` returning results for one or more subjects.
It raises `Skip` when it cannot run from here (no credentials, no VPC DNS), and `run_checks`
turns that, a timeout, or an unexpected error into a result with the check's id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.skip import Skip

# In the order they are checked and shown: from what a client sees down to how it was built.
LAYERS = ("http", "dns", "aws", "logs", "terraform")

CheckFunction = Callable[[Context], Awaitable[list[CheckResult]]]


# Each check must answer within this; a healthy environment answers in well under a second.
CHECK_TIMEOUT = 8.0


@dataclass(frozen=True)
class Check:
    id: str
    run: CheckFunction
    timeout: float = CHECK_TIMEOUT

    @property
    def layer(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True)
class Outcome:
    """A check's results and when it ran (monotonic seconds)."""

    check: Check
    results: list[CheckResult]
    started: float
    finished: float


async def run_check(check: Check, context: Context) -> Outcome:
    started = time.monotonic()
    results = await _results(check, context)
    return Outcome(check, results, started, time.monotonic())


async def _results(check: Check, context: Context) -> list[CheckResult]:
    try:
        async with asyncio.timeout(check.timeout):
            return await check.run(context)
    except Skip as skip:
        return [CheckResult.skipped(check.id, context.expectations.environment, str(skip))]
    except TimeoutError:
        return [
            CheckResult.fail(
                check.id,
                context.expectations.environment,
                f"no answer within {check.timeout:g} s",
                hint="the component behind this check is not answering; retry, then look at it",
            )
        ]
    except Exception as exc:  # a doctor that crashes on a broken environment is useless
        return [
            CheckResult.fail(
                check.id,
                context.expectations.environment,
                f"{type(exc).__name__}: {exc}",
                hint="the check could not interpret what it found; the evidence is the error",
            )
        ]


async def run_checks(checks: Sequence[Check], context: Context) -> list[Outcome]:
    """All checks at once; outcomes in the order the checks were given."""
    return list(await asyncio.gather(*(run_check(check, context) for check in checks)))
