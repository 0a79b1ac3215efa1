"""`hokusai keys --url …`: the key store's operations through a gateway's key admin API.

`RemoteKeys` answers as `KeyStore` does, so every command prints the same either way; it
speaks through an `AdminClient`, which holds the admin key and the one place that speaks HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from hokusai_platform.keys import tokens
from hokusai_platform.keys.admin_client import AdminClient, parsed
from hokusai_platform.keys.grants import Level, scope_default
from hokusai_platform.keys.rates import Rate, parse_rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import IssuedKey, KeyInfo

KEYS_PATH = "/api/admin/v1/keys"


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _key(document: Any) -> KeyInfo:
    created_at = _time(document["created_at"])
    if created_at is None:
        raise ValueError("a key without created_at")
    scope = Scope(document["scope"])
    default = Level.parse(document["default_permission"])
    return KeyInfo(
        id=str(document["id"]),
        name=str(document["name"]),
        scope=scope,
        rate=parse_rate(document["rate_limit"]),
        lookup=str(document["prefix"]).removeprefix(tokens.PREFIX),
        created_at=created_at,
        expires_at=_time(document["expires_at"]),
        revoked_at=_time(document["revoked_at"]),
        rotated_at=_time(document["rotated_at"]),
        # The API gives the level in force; one that is not the scope's was set on the key.
        default_permission=None if default is scope_default(scope) else default,
        workspace=None if document.get("workspace") is None else str(document["workspace"]),
    )


class RemoteKeys:
    """The key admin API of the gateway `admin` calls."""

    def __init__(self, admin: AdminClient) -> None:
        self._admin = admin

    @classmethod
    def connect(cls, url: str, env: Mapping[str, str]) -> RemoteKeys:
        return cls(AdminClient.connect(url, env))

    def create(
        self,
        name: str,
        scope: Scope,
        rate: Rate,
        expires_at: datetime | None,
        default: Level | None,
        workspace: str | None,
    ) -> IssuedKey:
        """As `KeyStore.create`, which the commands call with every argument."""
        fields = {
            "name": name,
            "scope": scope.value,
            "rate_limit": str(rate),
            "expires_at": None if expires_at is None else expires_at.isoformat(),
            "default_permission": None if default is None else default.name,
            "workspace": workspace,
        }
        return self._issued(self._admin.call("POST", KEYS_PATH, fields))

    def list(self) -> list[KeyInfo]:
        answer = self._admin.call("GET", KEYS_PATH)
        return parsed(lambda document: [_key(key) for key in document["keys"]], answer)

    def get(self, key_id: str) -> KeyInfo:
        return self._one("GET", self._path(key_id))

    def revoke(self, key_id: str) -> KeyInfo:
        return self._one("POST", self._path(key_id, "/revoke"))

    def rotate(self, key_id: str) -> IssuedKey:
        return self._issued(self._admin.call("POST", self._path(key_id, "/rotate")))

    def set_rate(self, key_id: str, rate: Rate) -> KeyInfo:
        return self._one("PUT", self._path(key_id, "/limits"), {"rate_limit": str(rate)})

    def clear_rate(self, key_id: str) -> KeyInfo:
        return self._one("DELETE", self._path(key_id, "/limits"))

    @staticmethod
    def _path(key_id: str, action: str = "") -> str:
        return f"{KEYS_PATH}/{quote(key_id, safe='')}{action}"

    def _one(self, method: str, path: str, fields: Mapping[str, object] | None = None) -> KeyInfo:
        return parsed(lambda answer: _key(answer["key"]), self._admin.call(method, path, fields))

    @staticmethod
    def _issued(document: Any) -> IssuedKey:
        return parsed(
            lambda answer: IssuedKey(_key(answer["key"]), str(answer["secret"])), document
        )
