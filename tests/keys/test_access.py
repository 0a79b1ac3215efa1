"""Which grant decides a key's level on a resource: the order of `keys/access.py`, rule by rule."""

from __future__ import annotations

import pytest

from hokusai_platform.keys.access import Access, ExperimentNameNeeded
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource, ResourceKind
from hokusai_platform.keys.scopes import Scope

KEY = "key_alice"
READ, EDIT, MANAGE, NONE = Level.READ, Level.EDIT, Level.MANAGE, Level.NO_PERMISSIONS


def grant(principal: str, resource: str, level: Level) -> Grant:
    return Grant(Principal.parse(principal), Resource.parse(resource), level)


def access(*grants: Grant, scope: Scope = Scope.WRITE, default: Level | None = None) -> Access:
    return Access.build(KEY, scope, default, grants)


def test_without_grants_the_default_follows_the_scope_unless_the_key_has_its_own() -> None:
    assert access(scope=Scope.READ).for_model("m") is READ
    assert access(scope=Scope.WRITE).for_experiment("1", "e") is EDIT
    assert access(scope=Scope.WRITE, default=NONE).for_model("m") is NONE
    assert access(scope=Scope.READ, default=MANAGE).for_experiment("1", "e") is MANAGE


def test_admin_bypasses_grants_and_defaults() -> None:
    admin = access(
        grant(f"key:{KEY}", "model:m", NONE),
        grant("team:t", "experiment:1", NONE),
        scope=Scope.ADMIN,
        default=NONE,
    )
    assert admin.for_model("m") is MANAGE
    assert admin.for_experiment("1") is MANAGE
    assert not admin.needs_experiment_names


OWN, TEAM, OPS = f"key:{KEY}", "team:ml", "team:ops"


def model(name: str) -> tuple[str, str | None]:
    return f"model:{name}", None


def experiment(experiment_id: str, name: str) -> tuple[str, str | None]:
    return f"experiment:{experiment_id}", name


# Each case: grants (principal, resource, level), the key's default, and what it then gets.
PRECEDENCE = [
    pytest.param(
        [(OWN, "experiment:12", MANAGE), (OWN, "model:alice/sentiment", EDIT)],
        NONE,
        [(experiment("12", "x"), MANAGE), (experiment("120", "x"), NONE),
         (model("alice/sentiment"), EDIT), (model("alice/sentiment-v2"), NONE)],
        id="exact grants name experiments by id and models by name",
    ),
    pytest.param(
        [(OWN, "model:alice/*", EDIT), (OWN, "experiment:alice/*", READ),
         (OWN, "experiment:1*", MANAGE)],
        NONE,
        [(model("alice/sentiment"), EDIT), (model("alice"), NONE), (model("bob/alice/x"), NONE),
         (experiment("7", "alice/runs"), READ), (experiment("12", "bob/runs"), NONE)],
        id="prefixes match the start of names, and of experiment names, never ids",
    ),
    pytest.param(
        [(TEAM, "model:*", READ)], NONE, [(model("x"), READ)], id="a bare * matches every name"
    ),
    pytest.param(
        [(OWN, "model:alice/*", EDIT), (OWN, "model:alice/frozen", READ)],
        NONE,
        [(model("alice/frozen"), READ), (model("alice/other"), EDIT)],
        id="rule 2: the key's exact grant beats its prefix grant",
    ),
    pytest.param(
        [(OWN, "model:a*", MANAGE), (OWN, "model:alice/*", READ),
         (OWN, "model:alice/archive/*", NONE)],
        EDIT,
        [(model("alice/archive/old"), NONE), (model("alice/new"), READ),
         (model("anna/x"), MANAGE), (model("bob/x"), EDIT)],
        id="rule 3: the longest matching prefix wins, whatever its level",
    ),
    pytest.param(
        [(OWN, "model:shared/*", NONE), (TEAM, "model:shared/model", MANAGE),
         (OWN, "experiment:5", READ), (TEAM, "experiment:5", MANAGE)],
        EDIT,
        [(model("shared/model"), NONE), (experiment("5", "any"), READ)],
        id="rules 2-3 before 4-5: even the key's prefix grant beats a team's exact grant",
    ),
    pytest.param(
        [(TEAM, "model:shared/*", MANAGE), (OPS, "model:shared/frozen", READ)],
        NONE,
        [(model("shared/frozen"), READ), (model("shared/other"), MANAGE)],
        id="rule 4: a team's exact grant beats a team's prefix grant",
    ),
    pytest.param(
        [(TEAM, "experiment:*", EDIT), (OPS, "experiment:prod/*", READ)],
        NONE,
        [(experiment("3", "prod/serving"), READ), (experiment("4", "dev/x"), EDIT)],
        id="rule 5: the longest team prefix wins",
    ),
    pytest.param(
        [(TEAM, "model:m", READ), (OPS, "model:m", MANAGE), ("team:blocked", "model:m", NONE),
         (TEAM, "experiment:team/*", READ), (OPS, "experiment:team/*", EDIT)],
        NONE,
        [(model("m"), MANAGE), (experiment("9", "team/x"), EDIT)],
        id="teams that tie give the highest of their levels",
    ),
    pytest.param(
        [(TEAM, "model:ml/*", NONE)],
        READ,
        [(model("ml/x"), NONE), (model("other"), READ)],
        id="rule 6: the default applies only where no grant matches",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("grants", "default", "expected"), PRECEDENCE)
def test_precedence(
    grants: list[tuple[str, str, Level]],
    default: Level,
    expected: list[tuple[tuple[str, str | None], Level]],
) -> None:
    snapshot = access(*(grant(*granted) for granted in grants), default=default)
    for (target, name), level in expected:
        resource = Resource.parse(target)
        found = (
            snapshot.for_model(resource.name)
            if resource.kind is ResourceKind.MODEL
            else snapshot.for_experiment(resource.name, name)
        )
        assert found is level, f"{target} {name or ''}"


def test_an_experiment_name_is_needed_only_when_a_prefix_grant_could_decide() -> None:
    without_prefixes = access(grant("team:ml", "experiment:1", READ), default=NONE)
    assert not without_prefixes.needs_experiment_names
    assert without_prefixes.for_experiment("1") is READ
    assert without_prefixes.for_experiment("2") is NONE

    with_prefixes = access(
        grant(f"key:{KEY}", "experiment:1", EDIT), grant("team:ml", "experiment:ml/*", READ)
    )
    assert with_prefixes.needs_experiment_names
    assert with_prefixes.for_experiment("1") is EDIT, "the key's exact grant decides first"
    with pytest.raises(ExperimentNameNeeded, match="experiment 2"):
        with_prefixes.for_experiment("2")
    assert with_prefixes.for_experiment("2", "ml/x") is READ


def test_a_snapshot_refuses_grants_to_another_key() -> None:
    with pytest.raises(ValueError, match="not for key key_alice"):
        access(grant("key:key_bob", "model:m", READ))


@pytest.mark.parametrize(
    ("text", "kind", "name", "prefix"),
    [
        ("experiment:12", ResourceKind.EXPERIMENT, "12", False),
        ("experiment:team-a/*", ResourceKind.EXPERIMENT, "team-a/", True),
        ("model:alice/sentiment", ResourceKind.MODEL, "alice/sentiment", False),
        ("model:*", ResourceKind.MODEL, "", True),
        ("model:name:with:colons", ResourceKind.MODEL, "name:with:colons", False),
    ],
)
def test_resources_parse_and_print_back_the_same(
    text: str, kind: ResourceKind, name: str, prefix: bool
) -> None:
    resource = Resource.parse(text)
    assert (resource.kind, resource.name, resource.prefix) == (kind, name, prefix)
    assert str(resource) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exp:1", "is not experiment:<id>"),
        ("model:", "is not experiment:<id>"),
        ("experiment:my-experiment", "numeric id"),
        ("model:a*b", "'*' may only end"),
        ("model:" + "x" * 501, "longer than 500"),
    ],
)
def test_bad_resources_are_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Resource.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("user:x", "is not key:<id> or team:<name>"), ("team:", "is not key"), ("team:a/b", "team")],
)
def test_bad_principals_are_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Principal.parse(text)


def test_levels_are_mlflows_words_in_mlflows_order() -> None:
    assert NONE < READ < EDIT < MANAGE
    assert Level.parse("edit") is EDIT and Level.parse(" NO_PERMISSIONS ") is NONE
    with pytest.raises(ValueError, match="READ, EDIT, MANAGE or NO_PERMISSIONS"):
        Level.parse("WRITE")
