"""Two gateways sharing one keys database, as ECS tasks share PostgreSQL: what the key admin
API changes through one, the other applies at once (a new key) or within a second (its key
cache's bound: revocation, rotation, limits)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.admin_api import AdminApi, after_the_key_cache, first_admin_key, start_keyed_gateway
from support.echo_upstream import EchoUpstream


@pytest.fixture(scope="module")
def replicas(
    echo: EchoUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AdminApi, AdminApi]]:
    directory = tmp_path_factory.mktemp("replicas")
    database_url = f"sqlite:///{directory / 'keys.db'}"
    admin_key = first_admin_key(database_url)
    servers = [
        start_keyed_gateway(directory / name, database_url, echo.url, redis_url)
        for name in ("a", "b")
    ]
    yield AdminApi(servers[0][1], admin_key), AdminApi(servers[1][1], admin_key)
    for server, _ in servers:
        server.stop()


def test_a_key_created_on_one_replica_works_on_the_other_at_once(
    replicas: tuple[AdminApi, AdminApi],
) -> None:
    a, b = replicas
    secret, key = a.create(name="made-on-a", scope="write")
    assert b.proxied_status(secret) == 200
    status, _, listed = b.call("GET", f"/{key['id']}")
    assert status == 200 and listed["key"] == key


def test_a_key_revoked_on_one_replica_is_refused_by_the_other_within_a_second(
    replicas: tuple[AdminApi, AdminApi],
) -> None:
    a, b = replicas
    secret, key = a.create(name="revoked-on-b")
    assert a.proxied_status(secret) == 200  # replica A now holds the key in its cache
    assert b.call("POST", f"/{key['id']}/revoke")[0] == 200
    assert b.proxied_status(secret) == 401
    after_the_key_cache()
    assert a.proxied_status(secret) == 401


def test_a_rotation_and_a_new_limit_reach_the_other_replica_within_a_second(
    replicas: tuple[AdminApi, AdminApi],
) -> None:
    a, b = replicas
    old, key = b.create(name="rotated-on-a", rate_limit="1000/min")
    assert b.rate_limit_of(old) == "1000"
    new = a.call("POST", f"/{key['id']}/rotate")[2]["secret"]
    assert a.call("PUT", f"/{key['id']}/limits", {"rate_limit": "9/s"})[0] == 200
    assert b.proxied_status(new) == 200
    after_the_key_cache()
    assert b.proxied_status(old) == 401
    assert b.rate_limit_of(new) == "9"
