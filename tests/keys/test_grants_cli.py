"""`hokusai grants`, `teams` and `keys show`: every change audited, every mistake named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.hokusai_cli import assert_one_error_line, hokusai


def ok(database_url: str, *args: str, audit_log: Path | None = None) -> str:
    answer = hokusai(database_url, *args, audit_log=audit_log)
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def _key_id(database_url: str, name: str) -> str:
    listed = json.loads(ok(database_url, "keys", "list", "--json"))
    return next(str(key["id"]) for key in listed if key["name"] == name)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'keys.db'}"


def test_a_contributor_is_set_up_and_shown_and_every_change_is_audited(
    database_url: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.log"
    db = database_url
    ok(db, "keys", "create", "--name", "alice", "--scope", "write",
       "--default-permission", "no_permissions", audit_log=audit)  # fmt: skip
    alice = _key_id(db, "alice")
    ok(db, "teams", "create", "vision", audit_log=audit)
    ok(db, "teams", "add-member", "vision", alice, audit_log=audit)
    ok(db, "grants", "add", f"key:{alice}", "model:alice/*", "EDIT", audit_log=audit)
    ok(db, "grants", "add", "team:vision", "experiment:vision/*", "read", audit_log=audit)
    ok(db, "grants", "add", "team:vision", "experiment:12", "MANAGE", audit_log=audit)

    shown = ok(db, "keys", "show", alice)
    assert f"{alice} (alice): scope write, active" in shown
    assert "Default on what no grant names: NO_PERMISSIONS (set on the key)." in shown
    assert "Teams: vision" in shown
    lines = shown.splitlines()
    header = next(number for number, line in enumerate(lines) if line.startswith("PRINCIPAL"))
    rows = [line.split() for line in lines[header + 1 :]]
    assert rows == [
        [f"key:{alice}", "model:alice/*", "EDIT"],
        ["team:vision", "experiment:vision/*", "READ"],
        ["team:vision", "experiment:12", "MANAGE"],
    ]
    as_json = json.loads(ok(db, "keys", "show", alice, "--json"))
    assert as_json["default_permission"] == "NO_PERMISSIONS" and as_json["teams"] == ["vision"]
    assert as_json["grants"][0] == {
        "principal": f"key:{alice}",
        "resource": "model:alice/*",
        "level": "EDIT",
    }

    ok(db, "grants", "remove", "team:vision", "experiment:12", audit_log=audit)
    ok(db, "teams", "remove-member", "vision", alice, audit_log=audit)
    ok(db, "keys", "set-default", alice, "scope", audit_log=audit)
    ok(db, "teams", "delete", "vision", audit_log=audit)
    assert json.loads(ok(db, "grants", "list", "--json")) == [
        {"principal": f"key:{alice}", "resource": "model:alice/*", "level": "EDIT"}
    ]
    assert "EDIT (from scope write)" in ok(db, "keys", "show", alice)

    audited = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["action"] for line in audited] == [
        "keys.create",
        "teams.create",
        "teams.add-member",
        "grants.add",
        "grants.add",
        "grants.add",
        "grants.remove",
        "teams.remove-member",
        "keys.set-default",
        "teams.delete",
    ]
    assert all(line["logger"] == "hokusai.audit" and line["actor"] for line in audited)
    assert audited[3] | {"ts": 0} == {
        "ts": 0,
        "logger": "hokusai.audit",
        "action": "grants.add",
        "actor": audited[3]["actor"],
        "principal": f"key:{alice}",
        "resource": "model:alice/*",
        "level": "EDIT",
    }


def test_key_changes_are_audited_on_stderr_without_the_secret(url: str) -> None:
    created = hokusai(url, "keys", "create", "--name", "ci")
    secret = created.stdout.strip()
    [line] = [json.loads(line) for line in created.stderr.splitlines() if line.startswith("{")]
    assert line["action"] == "keys.create" and line["default_permission"] == "READ"
    key_id = line["key_id"]
    for command in ("rotate", "revoke"):
        answer = hokusai(url, "keys", command, key_id)
        assert json.loads(answer.stderr.splitlines()[-1])["action"] == f"keys.{command}"
        assert secret not in answer.stderr
    assert secret not in created.stderr


def test_an_admin_key_is_shown_as_bypassing_grants(url: str) -> None:
    ok(url, "keys", "create", "--name", "root", "--scope", "admin")
    shown = ok(url, "keys", "show", _key_id(url, "root"))
    assert "MANAGE on every experiment and model; grants are not consulted" in shown
    assert "Grants: (none)" in shown


def test_teams_list_shows_members(url: str) -> None:
    ok(url, "keys", "create", "--name", "a")
    key = _key_id(url, "a")
    ok(url, "teams", "create", "ml")
    ok(url, "teams", "create", "ops")
    ok(url, "teams", "add-member", "ml", key)
    assert ok(url, "teams", "list").splitlines() == ["TEAM  MEMBERS", f"ml    {key}", "ops"]
    assert json.loads(ok(url, "teams", "list", "--json")) == [
        {"name": "ml", "members": [key]},
        {"name": "ops", "members": []},
    ]


def test_the_help_teaches_the_syntax_and_the_order(url: str) -> None:
    helped = ok(url, "grants", "--help")
    for text in ("experiment:<name-prefix>*", "model:<name>", "team:<name>", "NO_PERMISSIONS",
                 "the longest prefix wins", "highest of their levels"):  # fmt: skip
        assert text in helped
    assert "--default-permission" in ok(url, "keys", "create", "--help")
    assert {"grants", "teams"} <= set(ok(url, "--help").split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grants", "add", "user:x", "model:m", "READ"), "Invalid value for 'PRINCIPAL'"),
        (("grants", "add", "team:a/b", "model:m", "READ"), "is not a team name"),
        (("grants", "add", "team:t", "exp:1", "READ"), "Invalid value for 'RESOURCE'"),
        (("grants", "add", "team:t", "experiment:foo", "READ"), "numeric id"),
        (("grants", "add", "team:t", "model:a*b", "READ"), "'*' may only end"),
        (("grants", "add", "team:t", "model:m", "WRITE"), "Invalid value for 'LEVEL'"),
        (("grants", "add", "team:ghosts", "model:m", "READ"), "no team 'ghosts'"),
        (("grants", "add", "key:key_nope", "model:m", "READ"), "no key with id 'key_nope'"),
        (("grants", "remove", "team:t", "model:m"), "team:t has no grant on model:m"),
        (("grants", "list", "--principal", "nobody"), "Invalid value for '--principal'"),
        (("teams", "create", "-x"), "No such option"),
        (("teams", "create", "a b"), "Invalid value for 'NAME'"),
        (("teams", "add-member", "ghosts", "key_nope"), "no team 'ghosts'"),
        (("keys", "show", "key_nope"), "no key with id 'key_nope'"),
        (("keys", "set-default", "key_nope", "READ"), "no key with id 'key_nope'"),
        (("keys", "set-default", "key_nope", "ALL"), "Invalid value for 'LEVEL|SCOPE'"),
        (("keys", "create", "--name", "x", "--default-permission", "ALL"),
         "Invalid value for '--default-permission'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error_line(url: str, args: tuple[str, ...], message: str) -> None:
    assert_one_error_line(hokusai(url, *args), message)


def test_an_unwritable_audit_log_is_one_line_after_the_change(url: str, tmp_path: Path) -> None:
    answer = hokusai(url, "teams", "create", "ml", audit_log=tmp_path / "missing" / "audit.log")
    assert answer.returncode != 0
    assert answer.stderr.strip().splitlines() == [
        f"Error: teams.create done, but the audit log {tmp_path}/missing/audit.log could not be"
        " written: No such file or directory"
    ]
