"""`hokusai keys …`: create, list, show, revoke, rotate and limit API keys in the keys database,
or, with `--url`, through a gateway's key admin API (`keys.remote`).

What `hokusai grants` and `hokusai teams` share with it is in `keys.cli_common`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta

import click

from hokusai_platform.keys import database
from hokusai_platform.keys.admin_client import RemoteError
from hokusai_platform.keys.cli_common import (
    DURATION,
    LEVEL,
    RATE,
    WORKSPACE,
    Parsed,
    echo_grants,
    echo_table,
    open_store,
    record,
    safe_url,
)
from hokusai_platform.keys.grants import Level
from hokusai_platform.keys.rates import DEFAULT_RATE, Rate
from hokusai_platform.keys.remote import RemoteKeys
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import IssuedKey, KeyInfo, KeyStore
from hokusai_platform.settings import database_url


@contextmanager
def _keys() -> Iterator[KeyStore | RemoteKeys]:
    """The keys database, or the key admin API of the gateway `--url` names."""
    url = click.get_current_context().obj
    if not url:
        with open_store() as store:
            yield store
        return
    try:
        yield RemoteKeys.connect(url, os.environ)
    except RemoteError as exc:
        raise click.ClickException(str(exc)) from None


def _on_the_database() -> AbstractContextManager[KeyStore]:
    """The keys database, for the commands the key admin API does not offer."""
    context = click.get_current_context()
    if context.obj:
        raise click.UsageError(
            f"`hokusai keys {context.info_name}` works on the database itself"
            " (HOKUSAI_DATABASE_URL), not through --url"
        )
    return open_store()


def _record_on_the_database(store: KeyStore | RemoteKeys, action: str, **fields: object) -> None:
    """The audit line for a change made on the database; through --url, the gateway's own
    audit log has it, naming the admin key."""
    if isinstance(store, KeyStore):
        record(action, **fields)


def _announce(issued: IssuedKey, verb: str) -> None:
    key = issued.info
    click.echo(issued.secret)
    click.echo(
        f"{verb} {key.id} ({key.name}, scope {key.scope.value}, {key.rate}"
        f"{', default ' + key.default_level.name if key.default_permission is not None else ''}"
        f"{', workspace ' + key.workspace if key.workspace is not None else ''}"
        f"{', expires ' + key.expires_at.isoformat(timespec='seconds') if key.expires_at else ''})."
        " The key is shown only this once: store it now.",
        err=True,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="HOKUSAI_URL",
    metavar="URL",
    help="Manage keys through the gateway at URL, e.g. http://gateway:8001, with the admin key "
    "in HOKUSAI_ADMIN_KEY [env HOKUSAI_URL; default: the database itself].",
)
@click.pass_context
def keys(ctx: click.Context, url: str | None) -> None:
    """Manage API keys for the registry API [env HOKUSAI_DATABASE_URL].

    \b
    Clients send a key as `Authorization: Bearer <key>` (MLFLOW_TRACKING_TOKEN), as
    `X-API-Key: <key>`, or as the password of HTTP Basic (MLFLOW_TRACKING_PASSWORD).
    Only a hash of each key is stored; a lost key cannot be recovered, only rotated.

    \b
    Without database access, through a gateway's key admin API (create, list, rotate, revoke
    and limits, with the same output; show, set-default and migrate need the database):
      export HOKUSAI_ADMIN_KEY=hk_live_…   # an admin key; never a flag, so no shell history
      hokusai keys --url https://registry.example.com list
    """
    ctx.obj = url


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
    default=str(DEFAULT_RATE),
    show_default=True,
    help="Requests allowed, e.g. 10/s, 600/min, 5000/hour, 100000/day.",
)
@click.option(
    "--default-permission",
    type=LEVEL,
    help="Level on experiments and models no grant names: READ, EDIT, MANAGE or "
    "NO_PERMISSIONS [default: read: READ, write: EDIT].",
)
@click.option(
    "--workspace",
    type=WORKSPACE,
    help="Pin the key to this MLflow workspace (MLflow run with --enable-workspaces): the "
    "gateway sends it as X-MLFLOW-WORKSPACE and refuses requests for another "
    "[default: the caller's choice].",
)
def create(
    name: str,
    scope: str,
    expires: timedelta | None,
    rate_limit: Rate,
    default_permission: Level | None,
    workspace: str | None,
) -> None:
    """Create a key and print it (once) on stdout.

    \b
    A contributor who may change only what they are granted (see `hokusai grants --help`):
      hokusai keys create --name alice --scope write --default-permission NO_PERMISSIONS
    """
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    expires_at = datetime.now(UTC) + expires if expires is not None else None
    with _keys() as store:
        issued = store.create(
            name.strip(), Scope(scope), rate_limit, expires_at, default_permission, workspace
        )
    _announce(issued, "Created")
    key = issued.info
    _record_on_the_database(
        store,
        "keys.create",
        key_id=key.id,
        name=key.name,
        scope=key.scope.value,
        default_permission=key.default_level.name,
        workspace=key.workspace,
    )


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_keys(as_json: bool) -> None:
    """List keys (never their secrets)."""
    with _keys() as store:
        found = store.list()
    if as_json:
        click.echo(json.dumps([key.to_json() for key in found], indent=2))
        return
    now = datetime.now(UTC)
    echo_table(
        ("ID", "NAME", "SCOPE", "DEFAULT", "RATE", "PREFIX", "STATUS", "CREATED", "EXPIRES"),
        [_row(key, now) for key in found],
    )


def _status(key: KeyInfo, now: datetime) -> str:
    return "revoked" if key.revoked else "expired" if key.expired(now) else "active"


def _row(key: KeyInfo, now: datetime) -> tuple[str, ...]:
    return (
        key.id,
        key.name,
        key.scope.value,
        key.default_level.name,
        str(key.rate),
        key.prefix + "…",
        _status(key, now),
        key.created_at.strftime("%Y-%m-%d %H:%M"),
        key.expires_at.strftime("%Y-%m-%d %H:%M") if key.expires_at else "never",
    )


@keys.command()
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def show(key_id: str, as_json: bool) -> None:
    """What a key may reach: its scope, its default level, its teams and every grant."""
    with _on_the_database() as store:
        key = store.get(key_id)
        reach = store.grants.reach(key_id)
    if as_json:
        click.echo(
            json.dumps(
                {
                    **key.to_json(),
                    "teams": list(reach.teams),
                    "grants": [grant.to_json() for grant in reach.grants],
                },
                indent=2,
            )
        )
        return
    click.echo(f"{key.id} ({key.name}): scope {key.scope.value}, {_status(key, datetime.now(UTC))}")
    if key.scope is Scope.ADMIN:
        click.echo("Admin: MANAGE on every experiment and model; grants are not consulted.")
    else:
        origin = (
            "set on the key"
            if key.default_permission is not None
            else f"from scope {key.scope.value}"
        )
        click.echo(f"Default on what no grant names: {key.default_level.name} ({origin}).")
    click.echo(f"Workspace: {key.workspace or '(any: the caller chooses)'}")
    click.echo(f"Teams: {', '.join(reach.teams) or '(none)'}")
    if not reach.grants:
        click.echo("Grants: (none)")
        return
    click.echo("Grants, the key's own first (see `hokusai grants --help` for which wins):")
    echo_grants(reach.grants)


def _level_or_scope(text: str) -> Level | None:
    if text.strip().upper() == "SCOPE":
        return None
    try:
        return Level.parse(text)
    except ValueError:
        raise ValueError(f"{text!r} is not READ, EDIT, MANAGE, NO_PERMISSIONS or SCOPE") from None


@keys.command(name="set-default")
@click.argument("key_id")
@click.argument("level", type=Parsed("level", _level_or_scope), metavar="LEVEL|SCOPE")
def set_default(key_id: str, level: Level | None) -> None:
    """Set a key's level on experiments and models no grant names.

    \b
    LEVEL is READ, EDIT, MANAGE or NO_PERMISSIONS; SCOPE goes back to the level the
    key's scope implies (read: READ, write: EDIT). Gateways follow within a second.
    """
    with _on_the_database() as store:
        key = store.set_default(key_id, level)
    record("keys.set-default", key_id=key.id, default_permission=key.default_level.name)
    click.echo(f"Key {key.id} ({key.name}) now has {key.default_level.name} by default.")


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key; every gateway refuses it within a second."""
    with _keys() as store:
        key = store.revoke(key_id)
    _record_on_the_database(store, "keys.revoke", key_id=key.id)
    click.echo(f"Revoked {key.id} ({key.name}).")


@keys.command()
@click.argument("key_id")
def rotate(key_id: str) -> None:
    """Give a key a new secret (printed once); the old secret stops working within a second."""
    with _keys() as store:
        issued = store.rotate(key_id)
    _announce(issued, "Rotated")
    _record_on_the_database(store, "keys.rotate", key_id=issued.info.id)


@keys.command()
@click.argument("key_id")
@click.option("--rate-limit", type=RATE, help="A new limit, e.g. 10/s, 600/min, 5000/hour.")
@click.option("--clear", is_flag=True, help=f"Back to the default, {DEFAULT_RATE}.")
def limits(key_id: str, rate_limit: Rate | None, clear: bool) -> None:
    """Show a key's rate limit, set it or clear it; every gateway applies it within a second."""
    if rate_limit is not None and clear:
        raise click.UsageError("give --rate-limit or --clear, not both")
    with _keys() as store:
        if clear:
            key = store.clear_rate(key_id)
        elif rate_limit is not None:
            key = store.set_rate(key_id, rate_limit)
        else:
            key = store.get(key_id)
    if clear or rate_limit is not None:
        action = "keys.clear-limits" if clear else "keys.set-limits"  # as the key admin API's
        _record_on_the_database(store, action, key_id=key.id, rate_limit=str(key.rate))
    click.echo(f"{key.id} ({key.name}) is limited to {key.rate}.")


@keys.command()
def migrate() -> None:
    """Create or upgrade the keys database schema (also done on first use)."""
    with _on_the_database() as store:
        revision = database.current_revision(store.engine)
    click.echo(f"Keys database {safe_url(database_url())} is at revision {revision}.")
