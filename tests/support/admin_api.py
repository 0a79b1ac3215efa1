"""Gateways that enforce keys, and calls to their admin API, for the admin API's tests."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai_platform.keys.auth import MAX_CACHE_SECONDS
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import KeyStore
from support.processes import Server, start_gateway
from support.secured import GENEROUS, request

KEYS = "/api/admin/v1/keys"
GRANTS = "/api/admin/v1/grants"
TEAMS = "/api/admin/v1/teams"
SEARCH = "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=1"


def after_the_key_cache() -> None:
    """Every gateway has forgotten what it knew of any key before this call."""
    time.sleep(MAX_CACHE_SECONDS)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def first_admin_key(database_url: str) -> str:
    """The bootstrap: an admin key made on the database itself, as `hokusai keys create` does."""
    store = KeyStore.open(database_url)
    try:
        return store.create("operator", Scope.ADMIN, GENEROUS).secret
    finally:
        store.close()


def start_keyed_gateway(
    directory: Path, database_url: str, mlflow_url: str, redis_url: str, **env: str
) -> tuple[Server, str]:
    return start_gateway(
        directory / "gateway.log",
        {
            "HOKUSAI_AUTH": "required",
            "HOKUSAI_DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MLFLOW_SERVER_URL": mlflow_url,
            **env,
        },
    )


@dataclass
class AdminApi:
    """A gateway's admin API, called with `key` unless a call says otherwise."""

    url: str
    key: str

    def call(
        self,
        method: str,
        path: str = "",
        body: object = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
        under: str = KEYS,
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers (lower-cased names) and JSON document of one call to under + path."""
        data = b"" if body is None else json.dumps(body).encode()
        status, answer_headers, answer = request(
            self.url,
            method,
            under + path,
            bearer(self.key) if headers is None else headers,
            data,
            timeout,
        )
        return status, answer_headers, json.loads(answer)

    def create(self, **fields: object) -> tuple[str, dict[str, Any]]:
        """A new key's secret and its description."""
        status, _, document = self.call("POST", body=fields)
        assert status == 201, document
        return document["secret"], document["key"]

    def proxied_status(self, key: str) -> int:
        """What the MLflow proxy answers a search made with `key`."""
        return request(self.url, "GET", SEARCH, bearer(key))[0]

    def rate_limit_of(self, key: str) -> str:
        """The limit the proxy applies to `key` (its answer's RateLimit-Limit)."""
        return request(self.url, "GET", SEARCH, bearer(key))[1]["ratelimit-limit"]
