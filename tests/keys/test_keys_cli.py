"""`hokusai keys`: the key is printed once, listings never show it, mistakes get one clear line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.hokusai_cli import assert_one_error_line
from support.hokusai_cli import hokusai as run_hokusai

from hokusai_platform.keys import database


def hokusai(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_hokusai(database_url, "keys", *args)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'keys.db'}"


def _listed(url: str) -> list[dict[str, object]]:
    answer = hokusai(url, "list", "--json")
    assert answer.returncode == 0, answer.stderr
    listed: list[dict[str, object]] = json.loads(answer.stdout)
    return listed


def test_create_prints_the_key_alone_on_stdout(url: str) -> None:
    answer = hokusai(
        url,
        "create",
        "--name",
        "ci",
        "--scope",
        "write",
        "--expires",
        "30d",
        "--rate-limit",
        "10/s",
    )
    assert answer.returncode == 0, answer.stderr
    secret = answer.stdout.strip()
    assert secret.startswith("hk_live_") and "\n" not in secret
    assert "shown only this once" in answer.stderr
    [key] = _listed(url)
    assert (key["name"], key["scope"], key["rate_limit"]) == ("ci", "write", "10/s")
    assert key["expires_at"] is not None
    assert secret.startswith(str(key["prefix"]))


def test_list_never_shows_a_secret(url: str) -> None:
    secret = hokusai(url, "create", "--name", "reader").stdout.strip()
    table = hokusai(url, "list")
    as_json = hokusai(url, "list", "--json")
    for output in (table.stdout, as_json.stdout):
        assert secret not in output
        assert secret[len("hk_live_") + 12 :] not in output
    assert table.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "SCOPE"]
    assert "reader" in table.stdout and "active" in table.stdout


def test_revoke_and_rotate_by_id(url: str) -> None:
    first = hokusai(url, "create", "--name", "one").stdout.strip()
    [key] = _listed(url)
    rotated = hokusai(url, "rotate", str(key["id"]))
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.strip().startswith("hk_live_") and rotated.stdout.strip() != first
    revoked = hokusai(url, "revoke", str(key["id"]))
    assert revoked.returncode == 0 and str(key["id"]) in revoked.stdout
    [after] = _listed(url)
    assert after["revoked_at"] is not None and after["rotated_at"] is not None
    assert "revoked" in hokusai(url, "list").stdout


def test_limits_are_shown_set_and_cleared_and_each_change_audited(url: str) -> None:
    hokusai(url, "create", "--name", "limited", "--rate-limit", "5/s")
    [key] = _listed(url)
    shown = hokusai(url, "limits", str(key["id"]))
    assert shown.returncode == 0 and shown.stdout == f"{key['id']} (limited) is limited to 5/s.\n"
    assert shown.stderr == "", "showing changes nothing: no audit line"
    limited = hokusai(url, "limits", str(key["id"]), "--rate-limit", "20/m")
    assert limited.stdout == f"{key['id']} (limited) is limited to 20/min.\n"
    assert [listed["rate_limit"] for listed in _listed(url)] == ["20/min"]
    cleared = hokusai(url, "limits", str(key["id"]), "--clear")
    assert "is limited to 600/min." in cleared.stdout
    assert [listed["rate_limit"] for listed in _listed(url)] == ["600/min"]
    audited = [json.loads(answer.stderr) for answer in (limited, cleared)]
    assert [(line["action"], line["rate_limit"]) for line in audited] == [
        ("keys.set-limits", "20/min"),
        ("keys.clear-limits", "600/min"),
    ]
    assert {line["key_id"] for line in audited} == {key["id"]}


def test_migrate_reports_the_revision(url: str) -> None:
    answer = hokusai(url, "migrate")
    assert answer.returncode == 0
    assert f"revision {database.head_revision()}" in answer.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--name", "x", "--expires", "3 fortnights"), "is not a duration like 30d"),
        (("create", "--name", "x", "--expires", "0d"), "is not a duration"),
        (("create", "--name", "x", "--rate-limit", "fast"), "is not a rate like 600/min"),
        (("create", "--name", "x", "--rate-limit", "0/s"), "at least 1"),
        (("create", "--name", "x", "--scope", "root"), "'root' is not one of"),
        (("create", "--name", " "), "must not be empty"),
        (("revoke", "key_nope"), "no key with id 'key_nope'"),
        (("rotate", "key_nope"), "no key with id 'key_nope'"),
        (("limits", "key_nope", "--clear"), "no key with id 'key_nope'"),
        (("limits", "key_x", "--clear", "--rate-limit", "1/s"), "not both"),
        (("--url", "http://127.0.0.1:1", "migrate"), "not through --url"),
    ],
)
def test_bad_input_is_one_clear_error_line(url: str, args: tuple[str, ...], message: str) -> None:
    assert_one_error_line(hokusai(url, *args), message)


@pytest.mark.parametrize(
    ("database_url", "message"),
    [
        ("mysql://db/keys", "only sqlite:// and postgresql:// URLs are supported"),
        ("postgresql://nobody@127.0.0.1:1/keys", "Connection refused"),
        ("not a url", "HOKUSAI_DATABASE_URL"),
    ],
)
def test_an_unusable_database_is_named_without_a_traceback(database_url: str, message: str) -> None:
    answer = hokusai(database_url, "list")
    assert answer.returncode != 0
    assert message in answer.stderr and len(answer.stderr.strip().splitlines()) == 1
    assert "Traceback" not in answer.stderr
