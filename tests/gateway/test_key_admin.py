"""The key admin API: admin keys manage keys over HTTP, every action is audited, mistakes are
named, and nothing of it reaches MLflow."""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.admin_api import (
    KEYS,
    AdminApi,
    after_the_key_cache,
    bearer,
    first_admin_key,
    start_keyed_gateway,
)
from support.echo_upstream import EchoUpstream
from support.processes import Server
from support.secured import request

from hokusai_platform.audit import FLUSH_SECONDS
from hokusai_platform.gateway.key_admin import MAX_BODY_BYTES


@dataclass
class Deployment:
    api: AdminApi
    audit: Path
    log: Path
    write_key: str
    database: Path


@pytest.fixture(scope="module")
def deployment(
    echo: EchoUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("key-admin")
    database_url = f"sqlite:///{directory / 'keys.db'}"
    admin_key = first_admin_key(database_url)
    audit = directory / "audit.jsonl"
    server: Server
    server, url = start_keyed_gateway(
        directory, database_url, echo.url, redis_url, HOKUSAI_AUDIT_LOG=str(audit)
    )
    api = AdminApi(url, admin_key)
    write_key, _ = api.create(name="ci", scope="write")
    yield Deployment(api, audit, server.log, write_key, directory / "keys.db")
    server.stop()


@pytest.fixture
def api(deployment: Deployment) -> AdminApi:
    return deployment.api


@pytest.fixture
def nothing_reaches_mlflow(echo: EchoUpstream) -> Iterator[None]:
    before = len(echo.received)
    yield
    assert len(echo.received) == before, [r.path for r in echo.received[before:]]


def test_a_created_key_works_at_once_and_its_secret_is_in_that_answer_only(api: AdminApi) -> None:
    expires_at = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    status, headers, created = api.call(
        "POST",
        body={"name": "training", "scope": "write", "rate_limit": "10/s",
              "expires_at": expires_at.isoformat(), "default_permission": "READ"},
    )  # fmt: skip
    assert status == 201
    assert headers["cache-control"] == "no-store"
    key, secret = created["key"], created["secret"]
    assert secret.startswith(key["prefix"]) and key["prefix"].startswith("hk_live_")
    assert (key["name"], key["scope"], key["rate_limit"]) == ("training", "write", "10/s")
    assert key["default_permission"] == "READ", "its own, not the EDIT its scope implies"
    assert datetime.fromisoformat(key["expires_at"]) == expires_at
    assert api.proxied_status(secret) == 200
    status, _, listed = api.call("GET")
    status_one, _, one = api.call("GET", f"/{key['id']}")
    assert (status, status_one) == (200, 200)
    assert one["key"] == key
    assert key in listed["keys"]
    assert secret not in json.dumps(listed) + json.dumps(one)


def test_defaults_are_a_read_key_at_600_per_minute_that_never_expires(api: AdminApi) -> None:
    secret, key = api.create(name="reader")
    assert (key["scope"], key["rate_limit"], key["expires_at"]) == ("read", "600/min", None)
    assert key["default_permission"] == "READ", "the level its scope implies"
    status, _, _ = request(
        api.url, "POST", "/api/mlflow/api/2.0/mlflow/runs/create", bearer(secret), b"{}"
    )
    assert status == 403, "a read key may not write"


def test_rotation_gives_a_new_secret_and_the_old_one_stops_within_a_second(api: AdminApi) -> None:
    old, key = api.create(name="rotated", scope="write")
    assert api.proxied_status(old) == 200
    status, headers, rotated = api.call("POST", f"/{key['id']}/rotate")
    assert status == 200 and headers["cache-control"] == "no-store"
    new = rotated["secret"]
    assert new != old and rotated["key"]["id"] == key["id"]
    assert rotated["key"]["rotated_at"] is not None
    assert api.proxied_status(new) == 200
    after_the_key_cache()
    assert api.proxied_status(old) == 401


def test_a_revoked_key_is_refused_within_a_second_and_cannot_come_back(api: AdminApi) -> None:
    secret, key = api.create(name="leaked")
    assert api.proxied_status(secret) == 200  # the gateway's cache now holds the key
    status, _, revoked = api.call("POST", f"/{key['id']}/revoke")
    assert status == 200 and revoked["key"]["revoked_at"] is not None
    assert "secret" not in revoked
    after_the_key_cache()
    assert api.proxied_status(secret) == 401
    again = api.call("POST", f"/{key['id']}/revoke")
    assert again[0] == 200 and again[2]["key"]["revoked_at"] == revoked["key"]["revoked_at"]
    for method, path, body in [
        ("POST", "/rotate", None),
        ("PUT", "/limits", {"rate_limit": "1/s"}),
        ("DELETE", "/limits", None),
    ]:
        status, _, error = api.call(method, f"/{key['id']}{path}", body)
        assert (status, error["error_code"]) == (409, "RESOURCE_CONFLICT"), (method, path)
        assert "revoked" in error["message"]


def test_limits_are_set_and_cleared_and_the_rate_limiter_follows(api: AdminApi) -> None:
    secret, key = api.create(name="limited", rate_limit="1000/min")
    assert api.rate_limit_of(secret) == "1000"
    status, _, limited = api.call("PUT", f"/{key['id']}/limits", {"rate_limit": "7/s"})
    assert status == 200 and limited["key"]["rate_limit"] == "7/s"
    after_the_key_cache()
    assert api.rate_limit_of(secret) == "7"
    status, _, cleared = api.call("DELETE", f"/{key['id']}/limits")
    assert status == 200 and cleared["key"]["rate_limit"] == "600/min"
    after_the_key_cache()
    assert api.rate_limit_of(secret) == "600"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": 7}, "name"),
        ({"name": "x", "scope": "root"}, "scope"),
        ({"name": "x", "scope": None}, "scope"),
        ({"name": "x", "rate_limit": "0/s"}, "rate_limit"),
        ({"name": "x", "rate_limit": "10/fortnight"}, "rate_limit"),
        ({"name": "x", "rate_limit": "99999999999/s"}, "rate_limit"),
        ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "x", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "expires_at": 4102444800}, "expires_at"),
        ({"name": "x", "expires": "30d"}, "expires"),
        ({"name": "x", "default_permission": "ROOT"}, "default_permission"),
        ({"name": "x", "default_permission": 3}, "default_permission"),
    ],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_an_invalid_field_is_named(api: AdminApi, body: dict[str, object], field: str) -> None:
    before = len(api.call("GET")[2]["keys"])
    status, _, error = api.call("POST", body=body)
    assert (status, error["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert error["message"].startswith(f"{field}: "), error
    assert len(api.call("GET")[2]["keys"]) == before, "nothing was created"


def test_an_invalid_limit_is_named(api: AdminApi) -> None:
    _, key = api.create(name="limits")
    for body in ({}, {"rate_limit": "fast"}, {"rate_limit": "5/s", "burst": 3}):
        status, _, error = api.call("PUT", f"/{key['id']}/limits", body)
        assert (status, error["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), body
    assert api.call("GET", f"/{key['id']}")[2]["key"]["rate_limit"] == "600/min"


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"name"', b"[" * 10_000])
def test_a_body_that_is_not_a_json_object_is_a_bad_request(api: AdminApi, body: bytes) -> None:
    status, _, answer = request(api.url, "POST", KEYS, bearer(api.key), body)
    assert (status, json.loads(answer)["error_code"]) == (400, "BAD_REQUEST")


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_unknown_keys_endpoints_and_methods_are_named(api: AdminApi) -> None:
    for method, path in [
        ("GET", "/key_0000000000000000"),
        ("POST", "/key_missing/rotate"),
        ("POST", "/key_missing/revoke"),
        ("DELETE", "/key_missing/limits"),
    ]:
        status, _, error = api.call(method, path)
        assert (status, error["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST"), path
        assert "key_" in error["message"]
    for path in ["/key_1/delete", "/key_1/rotate/again", "/a%2Fb", "/" + "k" * 65]:
        status, _, error = api.call("POST", path)
        assert (status, error["error_code"]) == (404, "ENDPOINT_NOT_FOUND"), path
    status, headers, error = api.call("DELETE", "")
    assert (status, error["error_code"]) == (405, "METHOD_NOT_ALLOWED")
    assert headers["allow"] == "GET, POST"
    status, _, error = request(api.url, "GET", "/api/admin/v2/keys", bearer(api.key))
    assert status == 404 and json.loads(error)["error_code"] == "ENDPOINT_NOT_FOUND"


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("hk_live_" + "A" * 43), {"Authorization": "Digest username=admin"}],
    ids=["none", "unknown", "digest"],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_no_valid_key_gets_401_with_a_challenge(api: AdminApi, headers: dict[str, str]) -> None:
    for method, path in [("GET", ""), ("POST", ""), ("GET", "/nowhere")]:
        status, answer_headers, error = api.call(method, path, {"name": "x"}, headers)
        assert (status, error["error_code"]) == (401, "UNAUTHENTICATED")
        assert "Bearer" in answer_headers["www-authenticate"]


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_key_without_admin_scope_gets_403(api: AdminApi, deployment: Deployment) -> None:
    for method, path in [("GET", ""), ("POST", ""), ("POST", "/key_x/revoke")]:
        status, _, error = api.call(method, path, {"name": "x"}, bearer(deployment.write_key))
        assert (status, error["error_code"]) == (403, "PERMISSION_DENIED")
        assert "needs admin" in error["message"]


def test_the_admin_key_is_accepted_the_way_the_proxy_accepts_keys(api: AdminApi) -> None:
    basic = base64.b64encode(f"operator:{api.key}".encode()).decode()
    for headers in [{"X-API-Key": api.key}, {"Authorization": f"Basic {basic}"}]:
        status, _, _ = api.call("GET", "", None, headers)
        assert status == 200, headers
    status, _, answer = request(api.url, "GET", f"{KEYS}?api_key={api.key}", bearer(api.key))
    assert status == 400 and api.key not in answer.decode()


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_body_over_the_bound_is_refused(api: AdminApi) -> None:
    status, _, error = request(
        api.url, "POST", KEYS, bearer(api.key), b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    )
    assert (status, json.loads(error)["error_code"]) == (413, "REQUEST_TOO_LARGE")
    parts = urlsplit(api.url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"POST {KEYS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api.key}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
        answer = b""
        for _ in range(8):  # twice the bound; the answer comes once the bound is passed
            sock.sendall(chunk)
        while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
            answer += data
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]


def test_every_action_leaves_one_audit_line_and_no_secret(
    api: AdminApi, deployment: Deployment
) -> None:
    secret, key = api.create(name="audited", rate_limit="5/s")
    api.call("PUT", f"/{key['id']}/limits", {"rate_limit": "6/s"})
    rotated = api.call("POST", f"/{key['id']}/rotate")[2]["secret"]
    api.call("POST", f"/{key['id']}/revoke")
    api.call("GET", "", None, bearer(deployment.write_key))
    time.sleep(FLUSH_SECONDS + 0.3)  # lines are written in batches
    lines = [json.loads(line) for line in deployment.audit.read_text().splitlines()]
    mine = [line for line in lines if line.get("target") == key["id"]]
    assert [(line["action"], line["status"]) for line in mine] == [
        ("keys.create", 201), ("keys.set-limits", 200), ("keys.rotate", 200),
        ("keys.revoke", 200),
    ]  # fmt: skip
    assert mine[0]["change"] == {"name": "audited", "scope": "read", "rate_limit": "5/s",
                                 "expires_at": None, "default_permission": "READ"}  # fmt: skip
    assert mine[1]["change"] == {"rate_limit": "6/s"}
    assert {line["scope"] for line in mine} == {"admin"}
    assert {line["route_family"] for line in mine} == {"admin"}
    refused = [line for line in lines if line.get("action") == "keys.list"][-1]
    assert (refused["status"], refused["scope"]) == (403, "write")
    for text in (deployment.audit.read_text(), deployment.log.read_text()):
        for leaked in (secret, rotated, api.key):
            assert leaked not in text


def test_a_busy_database_holds_up_neither_the_event_loop_nor_readers(
    api: AdminApi, deployment: Deployment
) -> None:
    """A write waits for SQLite's lock (10 s) in a lookup thread, then gets a 503, while the
    same single-worker gateway goes on answering."""
    answers: list[tuple[int, dict[str, Any]]] = []

    def create() -> None:
        status, _, document = api.call("POST", body={"name": "blocked"}, timeout=30)
        answers.append((status, document))

    writer = sqlite3.connect(deployment.database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock, as a long migration would
        waiting = threading.Thread(target=create)
        waiting.start()
        time.sleep(0.5)  # the create is now waiting for the lock
        assert request(api.url, "GET", "/health/live")[0] == 200
        assert api.call("GET")[0] == 200, "reads go on (WAL) in the other lookup threads"
        assert waiting.is_alive() and answers == []
        waiting.join(30)
    finally:
        writer.close()
    [(status, error)] = answers
    assert (status, error["error_code"]) == (503, "TEMPORARILY_UNAVAILABLE")
    assert "blocked" not in [key["name"] for key in api.call("GET")[2]["keys"]]


def test_the_openapi_document_lists_the_admin_api(api: AdminApi) -> None:
    _, _, body = request(api.url, "GET", "/openapi.json")
    paths = json.loads(body)["paths"]
    assert set(paths[KEYS]) == {"get", "post"}
    assert set(paths[KEYS + "/{key_id}/limits"]) == {"parameters", "put", "delete"}
    assert "409" in paths[KEYS + "/{key_id}/rotate"]["post"]["responses"]


def test_without_keys_the_admin_api_is_off(echo_gateway: tuple[str, Server]) -> None:
    status, _, body = request(echo_gateway[0], "GET", KEYS)
    error = json.loads(body)
    assert (status, error["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    assert "HOKUSAI_AUTH=off" in error["message"]
