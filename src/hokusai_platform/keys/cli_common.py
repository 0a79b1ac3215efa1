"""What `hokusai keys`, `hokusai grants` and `hokusai teams` share: opening the keys database
with one-line errors, argument types whose message names the mistake, tables, and the audit
line each change leaves."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from hokusai_platform import audit
from hokusai_platform.keys import database
from hokusai_platform.keys.errors import StoreError
from hokusai_platform.keys.grants import Grant, Level
from hokusai_platform.keys.rates import parse_rate
from hokusai_platform.keys.store import KeyStore
from hokusai_platform.keys.workspaces import parse_workspace
from hokusai_platform.settings import audit_sink, database_url

T = TypeVar("T")
_DURATION = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `12h`, `30d`, `2w`."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 15m or 2w")
    return timedelta(seconds=int(match[1]) * _DURATION_UNITS[match[2]])


class Parsed(click.ParamType[T, object]):
    """A click type from a parse function whose ValueError message is the whole explanation."""

    def __init__(self, name: str, parse: Callable[[str], T]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> T:
        if not isinstance(value, str):
            return value  # type: ignore[return-value]  # a default already converted
        try:
            return self._parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Parsed("duration", parse_duration)
RATE = Parsed("rate", parse_rate)
LEVEL = Parsed("level", Level.parse)
WORKSPACE = Parsed("workspace", parse_workspace)


@contextmanager
def open_store() -> Iterator[KeyStore]:
    url = database_url()
    try:
        store = KeyStore.open(url)
    except (SQLAlchemyError, database.DatabaseURLError, OSError) as exc:
        raise click.ClickException(f"keys database {safe_url(url)}: {first_line(exc)}") from None
    try:
        yield store
    except StoreError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"keys database: {first_line(exc)}") from None
    finally:
        store.close()


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def record(action: str, **fields: object) -> None:
    """The audit line for a change just made (`HOKUSAI_AUDIT_LOG`, like the gateway's)."""
    sink = audit_sink()
    try:
        audit.record_change(sink, action, **fields)
    except OSError as exc:
        raise click.ClickException(
            f"{action} done, but the audit log {sink} could not be written: {exc.strerror}"
        ) from None


def echo_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    lines = [header, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    for line in lines:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def echo_grants(grants: Iterable[Grant]) -> None:
    echo_table(
        ("PRINCIPAL", "RESOURCE", "LEVEL"),
        [(str(grant.principal), str(grant.resource), grant.level.name) for grant in grants],
    )
