"""`hokusai grants|teams --url`: the same commands and output through a gateway's admin API,
with the admin key from the environment, and one line for every mistake."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.admin_api import AdminApi, first_admin_key, start_keyed_gateway
from support.echo_upstream import echo_upstream
from support.hokusai_cli import assert_one_error_line, hokusai

# A database the remote mode must never touch: any use of it would fail the command.
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/keys"


@dataclass
class Remote:
    url: str
    database_url: str
    api: AdminApi

    def run(self, group: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`hokusai <group> --url <gateway> …` with the admin key, and no database in reach."""
        return hokusai(NO_DATABASE, group, "--url", self.url, *args, HOKUSAI_ADMIN_KEY=self.api.key)

    def local(self, group: str, *args: str) -> subprocess.CompletedProcess[str]:
        """The same command on the database itself."""
        return hokusai(self.database_url, group, *args)


@pytest.fixture(scope="module")
def remote(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    directory = tmp_path_factory.mktemp("grants-remote")
    database_url = f"sqlite:///{directory / 'keys.db'}"
    admin_key = first_admin_key(database_url)
    with echo_upstream() as echo:
        server, url = start_keyed_gateway(directory, database_url, echo.url, redis_url)
        yield Remote(url, database_url, AdminApi(url, admin_key))
        server.stop()


def _ok(answer: subprocess.CompletedProcess[str]) -> str:
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def test_teams_and_grants_made_remotely_are_what_the_local_mode_lists(remote: Remote) -> None:
    _, key = remote.api.create(name="contributor", default_permission="NO_PERMISSIONS")
    assert _ok(remote.run("teams", "create", "vision")) == "Created team vision.\n"
    assert _ok(remote.run("teams", "add-member", "vision", key["id"])) == (
        f"Key {key['id']} is in team vision.\n"
    )
    assert _ok(remote.run("grants", "add", "team:vision", "model:vision-*", "EDIT")) == (
        "Granted EDIT on model:vision-* to team:vision.\n"
    )
    assert _ok(remote.run("grants", "add", f"key:{key['id']}", "experiment:7", "READ"))
    for group, args in [
        ("teams", ("list",)),
        ("teams", ("list", "--json")),
        ("grants", ("list",)),
        ("grants", ("list", "--json")),
        ("grants", ("list", "--principal", "team:vision")),
    ]:
        assert _ok(remote.run(group, *args)) == _ok(remote.local(group, *args)), args
    assert "vision-*" in _ok(remote.run("grants", "list", "--principal", "team:vision"))
    assert "experiment:7" not in _ok(remote.run("grants", "list", "--principal", "team:vision"))


def test_removals_through_the_api(remote: Remote) -> None:
    _, key = remote.api.create(name="leaving")
    _ok(remote.run("teams", "create", "leavers"))
    _ok(remote.run("teams", "add-member", "leavers", key["id"]))
    _ok(remote.run("grants", "add", "team:leavers", "model:old", "READ"))
    assert _ok(remote.run("grants", "remove", "team:leavers", "model:old")) == (
        "Removed the grant on model:old to team:leavers.\n"
    )
    assert _ok(remote.run("teams", "remove-member", "leavers", key["id"])) == (
        f"Key {key['id']} is no longer in team leavers.\n"
    )
    _ok(remote.run("teams", "delete", "leavers"))
    assert "leavers" not in _ok(remote.local("teams", "list"))


@pytest.mark.parametrize(
    ("group", "args", "fragment"),
    [
        ("teams", ("delete", "nobody"), "404 RESOURCE_DOES_NOT_EXIST: no team 'nobody'"),
        ("teams", ("add-member", "nobody", "key_x"), "RESOURCE_DOES_NOT_EXIST"),
        ("grants", ("add", "key:key_nope", "model:m", "READ"), "no key with id 'key_nope'"),
        ("grants", ("remove", "team:nobody", "model:m"), "RESOURCE_DOES_NOT_EXIST"),
    ],
)
def test_mistakes_are_one_line(
    remote: Remote, group: str, args: tuple[str, ...], fragment: str
) -> None:
    answer = remote.run(group, *args)
    assert_one_error_line(answer, fragment)
    assert answer.stdout == ""


def test_without_the_admin_key_it_says_so(remote: Remote) -> None:
    answer = hokusai(NO_DATABASE, "teams", "--url", remote.url, "list", HOKUSAI_ADMIN_KEY="")
    assert_one_error_line(answer, "HOKUSAI_ADMIN_KEY: not set")
