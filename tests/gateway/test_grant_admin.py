"""The grant admin API: admin keys manage grants and teams over HTTP, gateways follow within a
second, every action is audited, and mistakes are named."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.admin_api import (
    GRANTS,
    TEAMS,
    AdminApi,
    bearer,
    first_admin_key,
    start_keyed_gateway,
)
from support.echo_upstream import EchoUpstream
from support.secured import request

from hokusai_platform.audit import FLUSH_SECONDS

MODEL = "/api/mlflow/api/2.0/mlflow/registered-models/get?name="


@dataclass
class Deployment:
    api: AdminApi
    audit: Path
    write_key: str


@pytest.fixture(scope="module")
def deployment(
    echo: EchoUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("grant-admin")
    database_url = f"sqlite:///{directory / 'keys.db'}"
    audit = directory / "audit.jsonl"
    server, url = start_keyed_gateway(
        directory,
        database_url,
        echo.url,
        redis_url,
        HOKUSAI_AUDIT_LOG=str(audit),
    )
    api = AdminApi(url, first_admin_key(database_url))
    write_key, _ = api.create(name="ci", scope="write")
    yield Deployment(api, audit, write_key)
    server.stop()


@pytest.fixture
def api(deployment: Deployment) -> AdminApi:
    return deployment.api


@pytest.fixture
def new_key(api: AdminApi) -> Callable[[], tuple[str, str]]:
    """A read key that reaches nothing no grant names: its secret and its id."""

    def make() -> tuple[str, str]:
        secret, key = api.create(name="contributor", default_permission="NO_PERMISSIONS")
        return secret, key["id"]

    return make


def _status_within_a_second(api: AdminApi, secret: str, model: str, expected: int) -> None:
    deadline = time.monotonic() + 1.0
    while True:
        status = request(api.url, "GET", MODEL + model, bearer(secret))[0]
        if status == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == expected


def test_a_grant_made_and_removed_over_http_is_followed_within_a_second(
    api: AdminApi, new_key: Callable[[], tuple[str, str]]
) -> None:
    secret, key_id = new_key()
    assert request(api.url, "GET", MODEL + "alice-sentiment", bearer(secret))[0] == 403
    grant = {"principal": f"key:{key_id}", "resource": "model:alice-*", "level": "READ"}
    status, _, made = api.call("POST", body=grant, under=GRANTS)
    assert (status, made) == (201, {"grant": grant})
    _status_within_a_second(api, secret, "alice-sentiment", 200)
    assert grant in api.call("GET", under=GRANTS)[2]["grants"]
    removed = {"principal": f"key:{key_id}", "resource": "model:alice-*"}
    assert api.call("DELETE", body=removed, under=GRANTS)[:3:2] == (200, {"removed": removed})
    _status_within_a_second(api, secret, "alice-sentiment", 403)
    assert grant not in api.call("GET", under=GRANTS)[2]["grants"]


def test_a_team_s_grant_reaches_its_members_and_leaves_with_them(
    api: AdminApi, new_key: Callable[[], tuple[str, str]]
) -> None:
    secret, key_id = new_key()
    assert api.call("POST", body={"name": "vision"}, under=TEAMS)[:3:2] == (
        201,
        {"team": {"name": "vision", "members": []}},
    )
    grant = {"principal": "team:vision", "resource": "model:vision-*", "level": "EDIT"}
    assert api.call("POST", body=grant, under=GRANTS)[0] == 201
    assert api.call("PUT", f"/vision/members/{key_id}", under=TEAMS)[0] == 200
    assert {"name": "vision", "members": [key_id]} in api.call("GET", under=TEAMS)[2]["teams"]
    _status_within_a_second(api, secret, "vision-detector", 200)
    assert api.call("DELETE", f"/vision/members/{key_id}", under=TEAMS)[0] == 200
    _status_within_a_second(api, secret, "vision-detector", 403)
    assert api.call("DELETE", "/vision", under=TEAMS)[0] == 200
    assert api.call("GET", under=TEAMS)[2]["teams"] == []
    assert grant not in api.call("GET", under=GRANTS)[2]["grants"], "its grants go with it"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"principal": "user:alice", "resource": "model:m", "level": "READ"}, "principal"),
        ({"principal": "team:x", "resource": "dataset:d", "level": "READ"}, "resource"),
        ({"principal": "team:x", "resource": "model:a*b", "level": "READ"}, "resource"),
        ({"principal": "team:x", "resource": "model:m", "level": "OWNER"}, "level"),
        ({"principal": "team:x", "resource": "model:m"}, "level"),
        ({"principal": 7, "resource": "model:m", "level": "READ"}, "principal"),
        ({"principal": "team:x", "resource": "model:m", "level": "READ", "why": 1}, "why"),
    ],
)
def test_an_invalid_grant_field_is_named(
    api: AdminApi, body: dict[str, object], field: str
) -> None:
    status, _, document = api.call("POST", body=body, under=GRANTS)
    assert (status, document["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert document["message"].startswith(f"{field}: ")


def test_an_invalid_team_name_is_named(api: AdminApi) -> None:
    status, _, document = api.call("POST", body={"name": "-vision"}, under=TEAMS)
    assert (status, document["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert document["message"].startswith("name: ")


@pytest.mark.parametrize(
    ("method", "under", "path", "body", "named"),
    [
        ("POST", GRANTS, "", {"principal": "key:key_nope", "resource": "model:m",
                              "level": "READ"}, "key_nope"),
        ("POST", GRANTS, "", {"principal": "team:nope", "resource": "model:m",
                              "level": "READ"}, "nope"),
        ("DELETE", GRANTS, "", {"principal": "team:nope", "resource": "model:m"}, "nope"),
        ("DELETE", TEAMS, "/nope", None, "nope"),
        ("PUT", TEAMS, "/nope/members/key_nope", None, "nope"),
        ("DELETE", TEAMS, "/nope/members/key_nope", None, "nope"),
    ],
)  # fmt: skip
def test_an_unknown_key_team_or_grant_is_named(
    api: AdminApi, method: str, under: str, path: str, body: object, named: str
) -> None:
    status, _, document = api.call(method, path, body, under=under)
    assert (status, document["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert named in document["message"]


def test_a_team_made_twice_is_a_conflict(api: AdminApi) -> None:
    assert api.call("POST", body={"name": "twice"}, under=TEAMS)[0] == 201
    status, _, document = api.call("POST", body={"name": "twice"}, under=TEAMS)
    assert (status, document["error_code"]) == (409, "RESOURCE_CONFLICT")
    api.call("DELETE", "/twice", under=TEAMS)


def test_unknown_endpoints_and_methods_are_named(api: AdminApi) -> None:
    assert api.call("GET", "/x/y", under=TEAMS)[0] == 404
    status, headers, document = api.call("PATCH", under=GRANTS)
    assert (status, document["error_code"]) == (405, "METHOD_NOT_ALLOWED")
    assert headers["allow"] == "DELETE, GET, POST"


@pytest.mark.parametrize(
    ("method", "under", "path"),
    [("GET", GRANTS, ""), ("POST", TEAMS, ""), ("DELETE", TEAMS, "/vision")],
)
def test_a_key_without_admin_scope_gets_403(
    deployment: Deployment, method: str, under: str, path: str
) -> None:
    status, _, document = deployment.api.call(
        method, path, {"name": "sneaky"}, bearer(deployment.write_key), under=under
    )
    assert (status, document["error_code"]) == (403, "PERMISSION_DENIED")


def test_every_action_leaves_one_audit_line(
    api: AdminApi, deployment: Deployment, new_key: Callable[[], tuple[str, str]]
) -> None:
    _, key_id = new_key()
    grant = {"principal": f"key:{key_id}", "resource": "experiment:7", "level": "MANAGE"}
    api.call("POST", body={"name": "audited"}, under=TEAMS)
    api.call("PUT", f"/audited/members/{key_id}", under=TEAMS)
    api.call("POST", body=grant, under=GRANTS)
    api.call("DELETE", body={"principal": f"key:{key_id}", "resource": "experiment:7"},
             under=GRANTS)  # fmt: skip
    api.call("DELETE", f"/audited/members/{key_id}", under=TEAMS)
    api.call("DELETE", "/audited", under=TEAMS)
    api.call("DELETE", "/audited", under=TEAMS)
    time.sleep(FLUSH_SECONDS + 0.3)  # lines are written in batches
    lines = [json.loads(line) for line in deployment.audit.read_text().splitlines()]
    mine = [
        (line["action"], line["status"], line["target"], line["change"])
        for line in lines
        if str(line.get("target")).startswith(("audited", f"key:{key_id}"))
    ]
    member = {"team": "audited", "key_id": key_id}
    assert mine == [
        ("teams.create", 201, "audited", None),
        ("teams.add-member", 200, f"audited/members/{key_id}", member),
        ("grants.add", 201, f"key:{key_id}", grant),
        ("grants.remove", 200, f"key:{key_id}",
         {"principal": f"key:{key_id}", "resource": "experiment:7"}),
        ("teams.remove-member", 200, f"audited/members/{key_id}", member),
        ("teams.delete", 200, "audited", None),
        ("teams.delete", 404, "audited", None),
    ]  # fmt: skip


def test_the_openapi_document_lists_the_grant_api(api: AdminApi) -> None:
    paths = json.loads(request(api.url, "GET", "/openapi.json", {})[2])["paths"]
    assert set(paths[GRANTS]) == {"get", "post", "delete"}
    assert set(paths[TEAMS]) == {"get", "post"}
    assert set(paths[TEAMS + "/{team}/members/{key_id}"]) == {"parameters", "put", "delete"}
