"""Teams, members and grants in SQL, and each key's snapshot of them, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hokusai_platform.keys import tokens
from hokusai_platform.keys.errors import StoreError, UnknownKey, UnknownTeam
from hokusai_platform.keys.grants import Grant, Level, Principal, Resource
from hokusai_platform.keys.rates import Rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import Caller, IssuedKey, KeyStore

RATE = Rate(600, 60)


def _contributor(store: KeyStore, name: str = "alice") -> IssuedKey:
    return store.create(name, Scope.WRITE, RATE, default=Level.NO_PERMISSIONS)


def _identify(store: KeyStore, issued: IssuedKey, known: Caller | None = None) -> Caller:
    presented = tokens.parse(issued.secret)
    assert presented is not None
    caller = store.identify(presented, None if known is None else known.access)
    assert caller is not None
    return caller


def test_a_key_reaches_its_own_grants_and_its_teams(store: KeyStore) -> None:
    alice = _contributor(store)
    bob = _contributor(store, "bob")
    store.grants.create_team("vision")
    store.grants.add_member("vision", alice.info.id)
    store.grants.put(
        Grant(Principal.key(alice.info.id), Resource.parse("model:alice/*"), Level.EDIT)
    )
    store.grants.put(
        Grant(Principal.team("vision"), Resource.parse("experiment:vision/*"), Level.READ)
    )
    store.grants.put(Grant(Principal.key(bob.info.id), Resource.model("bob/m"), Level.MANAGE))

    access = _identify(store, alice).access
    assert access.for_model("alice/sentiment") is Level.EDIT
    assert access.for_model("bob/m") is Level.NO_PERMISSIONS
    assert access.for_experiment("3", "vision/detect") is Level.READ
    assert _identify(store, bob).access.for_experiment("3", "vision/detect") is Level.NO_PERMISSIONS

    reach = store.grants.reach(alice.info.id)
    assert reach.teams == ("vision",)
    assert [str(grant.resource) for grant in reach.grants] == [
        "model:alice/*",
        "experiment:vision/*",
    ]


def test_granting_again_changes_the_level_instead_of_adding_a_grant(store: KeyStore) -> None:
    alice = _contributor(store)
    model = Resource.model("alice/m")
    for level in (Level.READ, Level.MANAGE, Level.EDIT):
        store.grants.put(Grant(Principal.key(alice.info.id), model, level))
    assert store.grants.list() == [Grant(Principal.key(alice.info.id), model, Level.EDIT)]
    assert store.grants.list(Principal.team("nobody")) == []


def test_an_exact_grant_and_a_prefix_grant_on_the_same_name_are_two_grants(store: KeyStore) -> None:
    alice = _contributor(store)
    key = Principal.key(alice.info.id)
    store.grants.put(Grant(key, Resource.parse("model:m"), Level.READ))
    store.grants.put(Grant(key, Resource.parse("model:m*"), Level.EDIT))
    store.grants.remove(key, Resource.parse("model:m"))
    assert [str(grant.resource) for grant in store.grants.list()] == ["model:m*"]


def test_the_creator_is_granted_manage(store: KeyStore) -> None:
    alice = _contributor(store)
    store.grants.put(Grant(Principal.key(alice.info.id), Resource.experiment("5"), Level.READ))
    owned = store.grants.grant_owner(alice.info.id, Resource.experiment("5"))
    assert owned.level is Level.MANAGE
    store.grants.grant_owner(alice.info.id, Resource.model("alice/new"))
    access = _identify(store, alice).access
    assert access.for_experiment("5") is Level.MANAGE
    assert access.for_model("alice/new") is Level.MANAGE
    with pytest.raises(ValueError, match="name prefix"):
        store.grants.grant_owner(alice.info.id, Resource.parse("model:alice/*"))


def test_unknown_principals_and_duplicates_are_refused_by_name(store: KeyStore) -> None:
    alice = _contributor(store)
    model = Resource.model("m")
    with pytest.raises(UnknownKey, match="key_missing"):
        store.grants.put(Grant(Principal.key("key_missing"), model, Level.READ))
    with pytest.raises(UnknownTeam, match="'ghosts'"):
        store.grants.put(Grant(Principal.team("ghosts"), model, Level.READ))
    with pytest.raises(UnknownTeam, match="'ghosts'"):
        store.grants.add_member("ghosts", alice.info.id)
    store.grants.create_team("ml")
    with pytest.raises(StoreError, match="exists already"):
        store.grants.create_team("ml")
    with pytest.raises(UnknownKey, match="key_missing"):
        store.grants.add_member("ml", "key_missing")
    with pytest.raises(StoreError, match="not a member"):
        store.grants.remove_member("ml", alice.info.id)
    with pytest.raises(StoreError, match="has no grant on model:m"):
        store.grants.remove(Principal.key(alice.info.id), model)


def test_deleting_a_team_takes_its_members_and_grants_with_it(store: KeyStore) -> None:
    alice = _contributor(store)
    store.grants.create_team("ml")
    store.grants.add_member("ml", alice.info.id)
    store.grants.add_member("ml", alice.info.id)  # already a member: nothing changes
    store.grants.put(Grant(Principal.team("ml"), Resource.parse("model:ml/*"), Level.EDIT))
    assert [team.members for team in store.grants.teams()] == [(alice.info.id,)]
    store.grants.delete_team("ml")
    assert store.grants.teams() == [] and store.grants.list() == []
    assert _identify(store, alice).access.for_model("ml/x") is Level.NO_PERMISSIONS
    store.grants.create_team("ml")
    assert store.grants.teams()[0].members == (), "a new team of the same name starts empty"


def test_only_changes_to_what_a_key_reaches_move_its_version(store: KeyStore) -> None:
    alice, bob = _contributor(store), _contributor(store, "bob")
    store.grants.create_team("ml")
    store.grants.add_member("ml", bob.info.id)
    first = _identify(store, alice)

    def version_after(change: Callable[[], object]) -> int:
        change()
        return _identify(store, alice).access.version

    unrelated = [
        lambda: store.grants.create_team("ops"),
        lambda: store.grants.put(
            Grant(Principal.key(bob.info.id), Resource.model("m"), Level.READ)
        ),
        lambda: store.grants.put(Grant(Principal.team("ml"), Resource.model("m"), Level.READ)),
        lambda: store.set_default(bob.info.id, Level.READ),
    ]
    assert [version_after(change) for change in unrelated] == [first.access.version] * 4
    assert _identify(store, alice, first).access is first.access, "the snapshot is kept"

    related = [
        lambda: store.grants.add_member("ml", alice.info.id),
        lambda: store.grants.put(Grant(Principal.team("ml"), Resource.model("n"), Level.EDIT)),
        lambda: store.grants.remove(Principal.team("ml"), Resource.model("n")),
        lambda: store.grants.remove_member("ml", alice.info.id),
        lambda: store.grants.grant_owner(alice.info.id, Resource.experiment("1")),
        lambda: store.set_default(alice.info.id, Level.READ),
        lambda: store.grants.add_member("ops", alice.info.id),
        lambda: store.grants.delete_team("ops"),
    ]
    versions = [version_after(change) for change in related]
    assert versions == sorted(set(versions)) and versions[0] > first.access.version
    rebuilt = _identify(store, alice, first)
    assert rebuilt.access is not first.access
    assert rebuilt.access.for_model("anything") is Level.READ, "the new default counts"
    assert rebuilt.access.for_experiment("1") is Level.MANAGE


def test_a_default_of_its_own_and_back_to_the_scopes(store: KeyStore) -> None:
    alice = _contributor(store)
    assert store.get(alice.info.id).default_level is Level.NO_PERMISSIONS
    back = store.set_default(alice.info.id, None)
    assert back.default_permission is None and back.default_level is Level.EDIT
    assert _identify(store, alice).access.for_model("m") is Level.EDIT


def test_the_database_itself_refuses_levels_it_does_not_know(store: KeyStore) -> None:
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO grants (principal_kind, principal, resource_kind, prefix, resource,"
                " level, created_at) VALUES ('key', 'k', 'model', false, 'm', 'WRITE',"
                " CURRENT_TIMESTAMP)"
            )
        )


def test_members_must_be_real_keys_even_below_the_store(store: KeyStore) -> None:
    store.grants.create_team("ml")
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO team_members (team, key_id, added_at)"
                " VALUES ('ml', 'key_missing', CURRENT_TIMESTAMP)"
            )
        )
