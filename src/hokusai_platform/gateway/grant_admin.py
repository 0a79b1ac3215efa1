"""The grant admin API: grants and teams listed, made and undone over HTTP.

The same boundary, `admin` scope, audit line and error shapes as the key admin API, whose
handler it extends under the same mount. Changes go through `GrantStore`, which bumps the
access version of every key they touch, so every gateway sharing the database follows within
its access cache's bound (a second), as it does after `hokusai grants|teams`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from hokusai_platform.gateway.key_admin import (
    KEY_ID,
    RESOURCE_CONFLICT,
    RESOURCE_DOES_NOT_EXIST,
    ApiError,
    Done,
    KeyAdmin,
    invalid_field,
    json_object,
    text_field,
)
from hokusai_platform.gateway.security import Guard
from hokusai_platform.http.messages import Request, json_response
from hokusai_platform.keys.auth import Authenticator
from hokusai_platform.keys.errors import StoreError, UnknownTeam
from hokusai_platform.keys.grant_store import GrantStore
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource, team_name

GRANTS = "/api/admin/v1/grants"
TEAMS = "/api/admin/v1/teams"
ENDPOINTS = (
    f"GET {GRANTS}",
    f"POST {GRANTS}",
    f"DELETE {GRANTS}",
    f"GET {TEAMS}",
    f"POST {TEAMS}",
    f"DELETE {TEAMS}/{{team}}",
    f"PUT {TEAMS}/{{team}}/members/{{key_id}}",
    f"DELETE {TEAMS}/{{team}}/members/{{key_id}}",
)
NEW_GRANT_FIELDS = ("principal", "resource", "level")
GRANT_FIELDS = ("principal", "resource")
NEW_TEAM_FIELDS = ("name",)
TEAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # `team_name`'s, bounded
_MEMBER = re.compile(rf"({TEAM.pattern})/members/({KEY_ID.pattern})")

T = TypeVar("T")


def _grant_route(path: str) -> tuple[str, str] | None:
    """(the route's shape, what it names), e.g. ("teams/{team}", "vision")."""
    if path in (GRANTS, TEAMS):
        return path.rsplit("/", 1)[1], ""
    if not path.startswith(TEAMS + "/"):
        return None
    rest = path[len(TEAMS) + 1 :]
    if TEAM.fullmatch(rest):
        return "teams/{team}", rest
    if _MEMBER.fullmatch(rest):
        return "teams/{team}/members/{key_id}", rest
    return None


def _parsed(fields: dict[str, object], name: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(text_field(fields, name))
    except ValueError as exc:
        raise invalid_field(name, str(exc)) from None


def _membership(target: str) -> tuple[str, str]:
    team, _, key_id = target.partition("/members/")
    return team, key_id


class AdminApi(KeyAdmin):
    """The key admin API and the grant admin API, under one boundary."""

    def __init__(self, guard: Guard, authenticator: Authenticator) -> None:
        super().__init__(guard, authenticator)
        member = "teams/{team}/members/{key_id}"
        self._operations.update(
            {
                ("grants", "GET"): ("grants.list", self._list_grants),
                ("grants", "POST"): ("grants.add", self._add_grant),
                ("grants", "DELETE"): ("grants.remove", self._remove_grant),
                ("teams", "GET"): ("teams.list", self._list_teams),
                ("teams", "POST"): ("teams.create", self._create_team),
                ("teams/{team}", "DELETE"): ("teams.delete", self._delete_team),
                (member, "PUT"): ("teams.add-member", self._add_member),
                (member, "DELETE"): ("teams.remove-member", self._remove_member),
            }
        )

    def _route(self, path: str) -> tuple[str, str] | None:
        return _grant_route(path) or super()._route(path)

    async def _in_grants(self, operation: Callable[[GrantStore], T], missing: int = 409) -> T:
        """`operation` on the grant store; a `StoreError` that names no unknown key or team
        answers `missing` (404: the thing to undo is not there; 409: it is there already)."""
        try:
            return await self._in_store(lambda store: operation(store.grants))
        except UnknownTeam as exc:
            raise ApiError(404, RESOURCE_DOES_NOT_EXIST, str(exc)) from None
        except StoreError as exc:
            code = RESOURCE_DOES_NOT_EXIST if missing == 404 else RESOURCE_CONFLICT
            raise ApiError(missing, code, str(exc)) from None

    async def _list_grants(self, request: Request, target: str) -> Done:
        found = await self._in_grants(GrantStore.list)
        return Done(json_response({"grants": [grant.to_json() for grant in found]}), None)

    async def _add_grant(self, request: Request, target: str) -> Done:
        fields = await json_object(request, NEW_GRANT_FIELDS)
        grant = Grant(
            _parsed(fields, "principal", Principal.parse),
            _parsed(fields, "resource", Resource.parse),
            _parsed(fields, "level", Level.parse),
        )
        await self._in_grants(lambda grants: grants.put(grant))
        answer = json_response({"grant": grant.to_json()}, status=201)
        return Done(answer, str(grant.principal), grant.to_json())

    async def _remove_grant(self, request: Request, target: str) -> Done:
        fields = await json_object(request, GRANT_FIELDS)
        principal = _parsed(fields, "principal", Principal.parse)
        resource = _parsed(fields, "resource", Resource.parse)
        await self._in_grants(lambda grants: grants.remove(principal, resource), missing=404)
        removed = {"principal": str(principal), "resource": str(resource)}
        return Done(json_response({"removed": removed}), str(principal), removed)

    async def _list_teams(self, request: Request, target: str) -> Done:
        found = await self._in_grants(GrantStore.teams)
        return Done(json_response({"teams": [team.to_json() for team in found]}), None)

    async def _create_team(self, request: Request, target: str) -> Done:
        name = _parsed(await json_object(request, NEW_TEAM_FIELDS), "name", team_name)
        await self._in_grants(lambda grants: grants.create_team(name))
        return Done(json_response({"team": {"name": name, "members": []}}, status=201), name)

    async def _delete_team(self, request: Request, target: str) -> Done:
        await self._in_grants(lambda grants: grants.delete_team(target))
        return Done(json_response({"removed": {"team": target}}), target)

    async def _add_member(self, request: Request, target: str) -> Done:
        team, key_id = _membership(target)
        await self._in_grants(lambda grants: grants.add_member(team, key_id))
        member = {"team": team, "key_id": key_id}
        return Done(json_response({"member": member}), target, member)

    async def _remove_member(self, request: Request, target: str) -> Done:
        team, key_id = _membership(target)
        await self._in_grants(lambda grants: grants.remove_member(team, key_id), missing=404)
        member = {"team": team, "key_id": key_id}
        return Done(json_response({"removed": member}), target, member)
