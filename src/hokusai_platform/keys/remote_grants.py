"""`hokusai grants|teams --url …`: the grant store's operations through a gateway's admin API.

`RemoteGrants` answers as `GrantStore` does, so every command prints the same either way; it
speaks through an `AdminClient`, which holds the admin key and the one place that speaks HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from hokusai_platform.keys.admin_client import AdminClient, parsed
from hokusai_platform.keys.grant_store import TeamInfo
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource

GRANTS_PATH = "/api/admin/v1/grants"
TEAMS_PATH = "/api/admin/v1/teams"


def _grant(document: Any) -> Grant:
    return Grant(
        Principal.parse(document["principal"]),
        Resource.parse(document["resource"]),
        Level.parse(document["level"]),
    )


def _team(document: Any) -> TeamInfo:
    return TeamInfo(str(document["name"]), tuple(str(key) for key in document["members"]))


class RemoteGrants:
    """The grant admin API of the gateway `admin` calls."""

    def __init__(self, admin: AdminClient) -> None:
        self._admin = admin

    @classmethod
    def connect(cls, url: str, env: Mapping[str, str]) -> RemoteGrants:
        return cls(AdminClient.connect(url, env))

    def put(self, grant: Grant) -> None:
        self._admin.call("POST", GRANTS_PATH, grant.to_json())

    def remove(self, principal: Principal, resource: Resource) -> None:
        fields = {"principal": str(principal), "resource": str(resource)}
        self._admin.call("DELETE", GRANTS_PATH, fields)

    def list(self, principal: Principal | None = None) -> Sequence[Grant]:
        answer = self._admin.call("GET", GRANTS_PATH)
        found = parsed(lambda document: [_grant(grant) for grant in document["grants"]], answer)
        return [grant for grant in found if principal in (None, grant.principal)]

    def teams(self) -> Sequence[TeamInfo]:
        answer = self._admin.call("GET", TEAMS_PATH)
        return parsed(lambda document: [_team(team) for team in document["teams"]], answer)

    def create_team(self, name: str) -> None:
        self._admin.call("POST", TEAMS_PATH, {"name": name})

    def delete_team(self, name: str) -> None:
        self._admin.call("DELETE", self._team(name))

    def add_member(self, team: str, key_id: str) -> None:
        self._admin.call("PUT", self._member(team, key_id))

    def remove_member(self, team: str, key_id: str) -> None:
        self._admin.call("DELETE", self._member(team, key_id))

    @staticmethod
    def _team(name: str) -> str:
        return f"{TEAMS_PATH}/{quote(name, safe='')}"

    @classmethod
    def _member(cls, team: str, key_id: str) -> str:
        return f"{cls._team(team)}/members/{quote(key_id, safe='')}"
