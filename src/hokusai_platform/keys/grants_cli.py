"""`hokusai grants …` and `hokusai teams …`: who may reach which experiment and model."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from hokusai_platform.keys.admin_client import RemoteError
from hokusai_platform.keys.cli_common import (
    LEVEL,
    Parsed,
    echo_grants,
    echo_table,
    open_store,
    record,
)
from hokusai_platform.keys.grant_store import GrantStore
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource, team_name
from hokusai_platform.keys.remote_grants import RemoteGrants

PRINCIPAL = Parsed("principal", Principal.parse)
RESOURCE = Parsed("resource", Resource.parse)
TEAM = Parsed("team", team_name)
_CONTEXT = {"help_option_names": ["-h", "--help"]}
_URL = click.option(
    "--url",
    envvar="HOKUSAI_URL",
    metavar="URL",
    help="Work through the gateway at URL, e.g. http://gateway:8001, with the admin key in "
    "HOKUSAI_ADMIN_KEY [env HOKUSAI_URL; default: the database itself].",
)


@contextmanager
def _grants() -> Iterator[GrantStore | RemoteGrants]:
    """The keys database's grants, or the admin API of the gateway `--url` names."""
    url = click.get_current_context().obj
    if not url:
        with open_store() as store:
            yield store.grants
        return
    try:
        yield RemoteGrants.connect(url, os.environ)
    except RemoteError as exc:
        raise click.ClickException(str(exc)) from None


def _change(
    apply: Callable[[GrantStore | RemoteGrants], object], action: str, done: str, **what: str
) -> None:
    """Make one change, audit it (through --url, the gateway's audit log has it), then say
    it was done."""
    with _grants() as grants:
        apply(grants)
    if not click.get_current_context().obj:
        record(action, **what)
    click.echo(done)


@click.group(context_settings=_CONTEXT)
@_URL
@click.pass_context
def grants(ctx: click.Context, url: str | None) -> None:
    """Give a key or a team a level on experiments and registered models.

    \b
    PRINCIPAL  key:<id>                   one key (`hokusai keys list`)
               team:<name>                every key in the team (`hokusai teams --help`)
    RESOURCE   experiment:<id>            one experiment, by its numeric id
               experiment:<name-prefix>*  every experiment whose name starts so
               model:<name>               one registered model
               model:<name-prefix>*       every registered model whose name starts so
    LEVEL      READ < EDIT < MANAGE (MANAGE may also delete and grant others);
               NO_PERMISSIONS takes away what a key's teams or default would give

    \b
    The level of a key on a resource is the first that applies:
      1. admin scope: MANAGE on everything (grants are not consulted)
      2. a grant to the key on the exact resource
      3. a grant to the key on a prefix of its name (the longest prefix wins)
      4. a grant to one of its teams on the exact resource
      5. a grant to one of its teams on a prefix (the longest wins)
      6. the key's default (`hokusai keys create --default-permission`)
    Grants to several teams that tie give the highest of their levels. The scope still
    decides which routes a key may call at all: a read key with EDIT may only read.
    Gateways follow every change within a second.

    \b
    A contributor who may publish versions of their own models only:
      hokusai keys create --name alice --scope write --default-permission NO_PERMISSIONS
      hokusai grants add key:key_0123abcd 'model:alice/*' EDIT
    Without database access: HOKUSAI_ADMIN_KEY=hk_live_… hokusai grants --url URL list
    """
    ctx.obj = url


@grants.command(name="add")
@click.argument("principal", type=PRINCIPAL)
@click.argument("resource", type=RESOURCE)
@click.argument("level", type=LEVEL)
def add_grant(principal: Principal, resource: Resource, level: Level) -> None:
    """Grant PRINCIPAL the LEVEL on RESOURCE (replacing the level it had there)."""
    _change(
        lambda grants: grants.put(Grant(principal, resource, level)),
        "grants.add",
        f"Granted {level.name} on {resource} to {principal}.",
        principal=str(principal),
        resource=str(resource),
        level=level.name,
    )


@grants.command(name="remove")
@click.argument("principal", type=PRINCIPAL)
@click.argument("resource", type=RESOURCE)
def remove_grant(principal: Principal, resource: Resource) -> None:
    """Remove PRINCIPAL's grant on RESOURCE (exactly as it was added)."""
    _change(
        lambda grants: grants.remove(principal, resource),
        "grants.remove",
        f"Removed the grant on {resource} to {principal}.",
        principal=str(principal),
        resource=str(resource),
    )


@grants.command(name="list")
@click.option("--principal", type=PRINCIPAL, help="Only this key:<id> or team:<name>.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_grants(principal: Principal | None, as_json: bool) -> None:
    """List grants (what one key may reach in all: `hokusai keys show <id>`)."""
    with _grants() as store:
        found = store.list(principal)
    if as_json:
        click.echo(json.dumps([grant.to_json() for grant in found], indent=2))
        return
    echo_grants(found)


@click.group(context_settings=_CONTEXT)
@_URL
@click.pass_context
def teams(ctx: click.Context, url: str | None) -> None:
    """Group keys into teams, so that one grant reaches them all (`hokusai grants --help`).

    \b
      hokusai teams create vision
      hokusai teams add-member vision key_0123abcd
      hokusai grants add team:vision 'experiment:vision/*' EDIT
    A key may belong to any number of teams. Gateways follow every change within a second.
    """
    ctx.obj = url


@teams.command(name="create")
@click.argument("name", type=TEAM)
def create_team(name: str) -> None:
    """Create a team (letters, digits, '.', '_', '-')."""
    _change(
        lambda grants: grants.create_team(name), "teams.create", f"Created team {name}.", team=name
    )


@teams.command(name="delete")
@click.argument("name", type=TEAM)
def delete_team(name: str) -> None:
    """Delete a team, its memberships and every grant to it."""
    _change(
        lambda grants: grants.delete_team(name),
        "teams.delete",
        f"Deleted team {name}, its memberships and its grants.",
        team=name,
    )


def _team_and_key(command: Callable[[str, str], None]) -> Callable[[str, str], None]:
    return click.argument("team", type=TEAM)(click.argument("key_id")(command))


@teams.command(name="add-member")
@_team_and_key
def add_member(team: str, key_id: str) -> None:
    """Put the key KEY_ID in TEAM."""
    _membership(team, key_id, joins=True)


@teams.command(name="remove-member")
@_team_and_key
def remove_member(team: str, key_id: str) -> None:
    """Take the key KEY_ID out of TEAM."""
    _membership(team, key_id, joins=False)


def _membership(team: str, key_id: str, *, joins: bool) -> None:
    _change(
        lambda grants: (grants.add_member if joins else grants.remove_member)(team, key_id),
        "teams.add-member" if joins else "teams.remove-member",
        f"Key {key_id} is {'' if joins else 'no longer '}in team {team}.",
        team=team,
        key_id=key_id,
    )


@teams.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_teams(as_json: bool) -> None:
    """List teams and the keys in each."""
    with _grants() as store:
        found = store.teams()
    if as_json:
        click.echo(json.dumps([team.to_json() for team in found], indent=2))
        return
    echo_table(("TEAM", "MEMBERS"), [(team.name, " ".join(team.members)) for team in found])
