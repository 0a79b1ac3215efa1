"""A key's rate limit: so many requests per second, minute, hour or day."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PERIODS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}  # fmt: skip
_RATE = re.compile(r"\s*(\d+)\s*/\s*([a-z]+)\s*")
MAX_LIMIT = 1_000_000_000  # within the database's 32-bit integer column


@dataclass(frozen=True)
class Rate:
    limit: int
    period_seconds: int

    def __str__(self) -> str:
        unit = {1: "s", 60: "min", 3600: "hour", 86400: "day"}[self.period_seconds]
        return f"{self.limit}/{unit}"


DEFAULT_RATE = Rate(600, 60)  # a new key's, and a key's again once its own is cleared


def parse_rate(text: str) -> Rate:
    """`600/min`, `10/s`, `5000/hour`, `100000/day`."""
    match = _RATE.fullmatch(text.lower())
    if match is None or match[2] not in _PERIODS:
        raise ValueError(f"{text!r} is not a rate like 600/min, 10/s, 5000/hour or 100000/day")
    if len(match[1].lstrip("0")) > len(str(MAX_LIMIT)) or int(match[1]) > MAX_LIMIT:
        raise ValueError(f"{text!r}: the limit must be at most {MAX_LIMIT}")
    limit = int(match[1])
    if limit < 1:
        raise ValueError(f"{text!r}: the limit must be at least 1")
    return Rate(limit, _PERIODS[match[2]])
