"""`hokusai keys …`: create, list, revoke and rotate API keys in the keys database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from hokusai_platform.keys import database
from hokusai_platform.keys.errors import UnknownKey
from hokusai_platform.keys.rates import Rate, parse_rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import IssuedKey, KeyInfo, KeyStore
from hokusai_platform.settings import database_url

T = TypeVar("T")
_DURATION = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `12h`, `30d`, `2w`."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 15m or 2w")
    return timedelta(seconds=int(match[1]) * _DURATION_UNITS[match[2]])


class _Parsed(click.ParamType[T, object]):
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


DURATION = _Parsed("duration", parse_duration)
RATE = _Parsed("rate", parse_rate)


@contextmanager
def _store() -> Iterator[KeyStore]:
    url = database_url()
    try:
        store = KeyStore.open(url)
    except (SQLAlchemyError, database.DatabaseURLError, OSError) as exc:
        raise click.ClickException(f"keys database {_safe(url)}: {_first_line(exc)}") from None
    try:
        yield store
    except UnknownKey as exc:
        raise click.ClickException(str(exc.args[0])) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"keys database: {_first_line(exc)}") from None
    finally:
        store.close()


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _announce(issued: IssuedKey, verb: str) -> None:
    key = issued.info
    click.echo(issued.secret)
    click.echo(
        f"{verb} {key.id} ({key.name}, scope {key.scope.value}, {key.rate}"
        f"{', expires ' + key.expires_at.isoformat(timespec='seconds') if key.expires_at else ''})."
        " The key is shown only this once: store it now.",
        err=True,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def keys() -> None:
    """Manage API keys for the registry API [env HOKUSAI_DATABASE_URL].

    \b
    Clients send a key as `Authorization: Bearer <key>` (MLFLOW_TRACKING_TOKEN), as
    `X-API-Key: <key>`, or as the password of HTTP Basic (MLFLOW_TRACKING_PASSWORD).
    Only a hash of each key is stored; a lost key cannot be recovered, only rotated.
    """


@keys.command()
@click.option("--name", required=True, help="Who or what uses the key, e.g. ci-training.")
@click.option(
    "--scope",
    type=click.Choice([scope.value for scope in Scope]),
    default=Scope.READ.value,
    show_default=True,
    help="read: search and download; write: also log, create, register; admin: also delete models.",
)
@click.option("--expires", type=DURATION, help="Lifetime, e.g. 30d, 12h, 2w [default: never].")
@click.option(
    "--rate-limit",
    type=RATE,
    default="600/min",
    show_default=True,
    help="Requests allowed, e.g. 10/s, 600/min, 5000/hour, 100000/day.",
)
def create(name: str, scope: str, expires: timedelta | None, rate_limit: Rate) -> None:
    """Create a key and print it (once) on stdout."""
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    expires_at = datetime.now(UTC) + expires if expires is not None else None
    with _store() as store:
        _announce(store.create(name.strip(), Scope(scope), rate_limit, expires_at), "Created")


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_keys(as_json: bool) -> None:
    """List keys (never their secrets)."""
    with _store() as store:
        found = store.list()
    if as_json:
        click.echo(json.dumps([key.to_json() for key in found], indent=2))
        return
    now = datetime.now(UTC)
    rows: list[tuple[str, ...]] = [
        ("ID", "NAME", "SCOPE", "RATE", "PREFIX", "STATUS", "CREATED", "EXPIRES")
    ]
    rows += [_row(key, now) for key in found]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _row(key: KeyInfo, now: datetime) -> tuple[str, ...]:
    status = "revoked" if key.revoked else "expired" if key.expired(now) else "active"
    return (
        key.id,
        key.name,
        key.scope.value,
        str(key.rate),
        key.prefix + "…",
        status,
        key.created_at.strftime("%Y-%m-%d %H:%M"),
        key.expires_at.strftime("%Y-%m-%d %H:%M") if key.expires_at else "never",
    )


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key; every gateway refuses it within a second."""
    with _store() as store:
        key = store.revoke(key_id)
    click.echo(f"Revoked {key.id} ({key.name}).")


@keys.command()
@click.argument("key_id")
def rotate(key_id: str) -> None:
    """Give a key a new secret (printed once); the old secret stops working within a second."""
    with _store() as store:
        _announce(store.rotate(key_id), "Rotated")


@keys.command()
def migrate() -> None:
    """Create or upgrade the keys database schema (also done on first use)."""
    with _store() as store:
        revision = database.current_revision(store.engine)
    click.echo(f"Keys database {_safe(database_url())} is at revision {revision}.")
