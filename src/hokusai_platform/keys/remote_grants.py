"""`hokusai grants|teams --url …`: the grant store's operations through a gateway's admin API.

`RemoteGrants` answers as `GrantStore` does, so every command prints the same either way; it
speaks through `RemoteKeys`, which holds the admin key and the one place that speaks HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from hokusai_platform.keys.grant_store import TeamInfo
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource
from hokusai_platform.keys.remote import RemoteKeys, parsed

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
    """The grant admin API of the gateway `api` calls."""

    def __init__(self, api: RemoteKeys) -> None:
        self._api = api

    @classmethod
    def connect(cls, url: str, env: Mapping[str, str]) -> RemoteGrants:
        return cls(RemoteKeys.connect(url, env))

    def put(self, grant: Grant) -> None:
        self._api.call("POST", "", grant.to_json(), GRANTS_PATH)

    def remove(self, principal: Principal, resource: Resource) -> None:
        fields = {"principal": str(principal), "resource": str(resource)}
        self._api.call("DELETE", "", fields, GRANTS_PATH)

    def list(self, principal: Principal | None = None) -> Sequence[Grant]:
        answer = self._api.call("GET", "", None, GRANTS_PATH)
        found = parsed(lambda document: [_grant(grant) for grant in document["grants"]], answer)
        return [grant for grant in found if principal in (None, grant.principal)]

    def teams(self) -> Sequence[TeamInfo]:
        answer = self._api.call("GET", "", None, TEAMS_PATH)
        return parsed(lambda document: [_team(team) for team in document["teams"]], answer)

    def create_team(self, name: str) -> None:
        self._api.call("POST", "", {"name": name}, TEAMS_PATH)

    def delete_team(self, name: str) -> None:
        self._api.call("DELETE", "/" + quote(name, safe=""), None, TEAMS_PATH)

    def add_member(self, team: str, key_id: str) -> None:
        self._api.call("PUT", self._member(team, key_id), None, TEAMS_PATH)

    def remove_member(self, team: str, key_id: str) -> None:
        self._api.call("DELETE", self._member(team, key_id), None, TEAMS_PATH)

    @staticmethod
    def _member(team: str, key_id: str) -> str:
        return f"/{quote(team, safe='')}/members/{quote(key_id, safe='')}"
