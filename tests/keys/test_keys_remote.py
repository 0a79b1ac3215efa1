"""`hokusai keys --url`: the same commands and output through a gateway's key admin API, with
the admin key from the environment, and one clear line for every way it can go wrong."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support.admin_api import AdminApi, first_admin_key, start_keyed_gateway
from support.echo_upstream import echo_upstream
from support.hokusai_cli import assert_one_error_line, hokusai
from support.processes import free_port

# A database the remote mode must never touch: any use of it would fail the command.
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/keys"


@dataclass
class Remote:
    url: str
    database_url: str
    admin_key: str
    mlflow_url: str

    def keys(self, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
        """`hokusai keys --url <gateway> …` with the admin key, and no database in reach."""
        return hokusai(
            NO_DATABASE,
            "keys",
            "--url",
            self.url,
            *args,
            **{"HOKUSAI_ADMIN_KEY": self.admin_key, **variables},
        )

    def local(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same command on the database itself."""
        return hokusai(self.database_url, "keys", *args)


def assert_failed_saying(answer: subprocess.CompletedProcess[str], *fragments: str) -> None:
    for fragment in fragments:
        assert_one_error_line(answer, fragment)
    assert answer.stdout == ""


@pytest.fixture(scope="module")
def remote(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    directory = tmp_path_factory.mktemp("keys-remote")
    database_url = f"sqlite:///{directory / 'keys.db'}"
    admin_key = first_admin_key(database_url)
    with echo_upstream() as echo:
        server, url = start_keyed_gateway(directory, database_url, echo.url, redis_url)
        yield Remote(url, database_url, admin_key, echo.url)
        server.stop()


def test_create_prints_the_secret_alone_and_the_key_works(remote: Remote) -> None:
    created = remote.keys(
        "create", "--name", "ci", "--scope", "write", "--expires", "30d", "--rate-limit", "10/s"
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert created.stdout == secret + "\n" and secret.startswith("hk_live_")
    assert created.stderr.startswith("Created key_") and "(ci, scope write, 10/s, expires " in (
        created.stderr
    )
    assert "shown only this once" in created.stderr
    assert "{" not in created.stderr, "the gateway audits the change, not this machine"
    assert AdminApi(remote.url, remote.admin_key).proxied_status(secret) == 200


def test_list_is_what_the_local_mode_prints(remote: Remote) -> None:
    remote.keys("create", "--name", "listed")
    for args in [("list",), ("list", "--json")]:
        through_api, on_database = remote.keys(*args), remote.local(*args)
        assert through_api.returncode == 0, through_api.stderr
        assert through_api.stdout == on_database.stdout
    listed = json.loads(remote.keys("list", "--json").stdout)
    assert "listed" in [key["name"] for key in listed]


def test_rotate_revoke_and_limits_through_the_api(remote: Remote) -> None:
    old = remote.keys("create", "--name", "cycled").stdout.strip()
    [key] = [key for key in json.loads(remote.local("list", "--json").stdout)
             if key["name"] == "cycled"]  # fmt: skip
    key_id = key["id"]
    rotated = remote.keys("rotate", key_id)
    new = rotated.stdout.strip()
    assert rotated.returncode == 0 and new.startswith("hk_live_") and new != old
    assert rotated.stderr.startswith(f"Rotated {key_id} (cycled, scope read, 600/min)")
    limited = remote.keys("limits", key_id, "--rate-limit", "3/s")
    assert limited.stdout == f"{key_id} (cycled) is limited to 3/s.\n"
    assert remote.local("limits", key_id).stdout == limited.stdout
    assert remote.keys("limits", key_id).stdout == limited.stdout
    cleared = remote.keys("limits", key_id, "--clear")
    assert cleared.stdout == f"{key_id} (cycled) is limited to 600/min.\n"
    revoked = remote.keys("revoke", key_id)
    assert revoked.returncode == 0 and revoked.stdout == f"Revoked {key_id} (cycled).\n"
    assert_failed_saying(remote.keys("rotate", key_id), "409 RESOURCE_CONFLICT", "revoked")


def test_hokusai_url_in_the_environment_is_the_same_as_the_flag(remote: Remote) -> None:
    answer = hokusai(
        NO_DATABASE,
        "keys",
        "list",
        "--json",
        HOKUSAI_URL=remote.url,
        HOKUSAI_ADMIN_KEY=remote.admin_key,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout == remote.local("list", "--json").stdout


def test_mistakes_are_one_line(remote: Remote) -> None:
    assert_failed_saying(
        remote.keys("revoke", "key_0000000000000000"), "404 RESOURCE_DOES_NOT_EXIST", "key_0000"
    )
    assert_failed_saying(
        remote.keys("create", "--name", "two\nlines"), "400 INVALID_PARAMETER_VALUE", "name:"
    )
    assert_failed_saying(
        remote.keys("list", HOKUSAI_ADMIN_KEY="hk_live_" + "A" * 43),
        "401 UNAUTHENTICATED",
        "HOKUSAI_ADMIN_KEY is not a valid key there",
    )
    write_key = remote.keys("create", "--name", "writer", "--scope", "write").stdout.strip()
    assert_failed_saying(
        remote.keys("list", HOKUSAI_ADMIN_KEY=write_key), "403 PERMISSION_DENIED", "needs admin"
    )
    assert_failed_saying(
        hokusai(NO_DATABASE, "keys", "--url", remote.url, "list"),
        "HOKUSAI_ADMIN_KEY: not set",
        remote.url,
    )


def test_what_the_api_does_not_offer_says_so(remote: Remote) -> None:
    for command in [("show", "key_x"), ("set-default", "key_x", "READ"), ("migrate",)]:
        assert_failed_saying(
            remote.keys(*command), f"`hokusai keys {command[0]}` works on the database itself"
        )


def test_a_default_permission_is_set_through_the_api_too(remote: Remote) -> None:
    created = remote.keys(
        "create", "--name", "contributor", "--scope", "write", "--default-permission", "READ"
    )
    assert created.returncode == 0, created.stderr
    assert "(contributor, scope write, 600/min, default READ)" in created.stderr
    shown = remote.local("show", "--json", created.stderr.split()[1])
    assert json.loads(shown.stdout)["default_permission"] == "READ"


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("http://127.0.0.1:{free}", ("cannot reach http://127.0.0.1:", "Connection refused")),
        ("ftp://127.0.0.1", ("not a gateway URL like http://gateway:8001",)),
        ("http://[::1", ("not a gateway URL",)),
        ("{gateway}/api/mlflow", ("MLflow's tracking URI", "without /api/mlflow")),
        ("{gateway}/nowhere", ("404 ENDPOINT_NOT_FOUND: no endpoint /nowhere/api/admin/v1/keys",)),
        ("{mlflow}/html404", ("answered 404 without the key admin API's JSON", "Hokusai gateway?")),
    ],
)
def test_an_unusable_url_is_one_line(remote: Remote, url: str, fragments: tuple[str, ...]) -> None:
    url = url.format(free=free_port(), gateway=remote.url, mlflow=remote.mlflow_url)
    answer = hokusai(NO_DATABASE, "keys", "--url", url, "list", HOKUSAI_ADMIN_KEY=remote.admin_key)
    assert_failed_saying(answer, *fragments)


def test_a_redirect_is_not_followed_with_the_admin_key(remote: Remote) -> None:
    received: list[str | None] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(self.headers.get("Authorization"))
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = hokusai(
            NO_DATABASE,
            "keys",
            "--url",
            f"http://127.0.0.1:{server.server_port}",
            "list",
            HOKUSAI_ADMIN_KEY=remote.admin_key,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert_failed_saying(answer, "redirects to", "/elsewhere")
    assert received == [f"Bearer {remote.admin_key}"], "asked once, never at the redirect target"
