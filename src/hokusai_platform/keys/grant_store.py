"""Teams, their members and grants, in SQL; and the snapshot of one key's grants.

Every change also bumps, in the same transaction, the `grants_version` of each key whose
reach it changes (the key granted, or every member of the team). A gateway refreshes a key
with its authentication, at least once a second, and rebuilds the key's `Access` only when
that number moved: a grant to one key costs the other keys nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from hokusai_platform.keys.access import Access
from hokusai_platform.keys.errors import StoreError, UnknownKey, UnknownTeam
from hokusai_platform.keys.grants import (
    Grant,
    Level,
    Principal,
    PrincipalKind,
    Resource,
    ResourceKind,
    team_name,
)
from hokusai_platform.keys.models import (
    GRANT_IDENTITY,
    ApiKey,
    GrantRow,
    Team,
    TeamMember,
)
from hokusai_platform.keys.scopes import Scope


@dataclass(frozen=True)
class TeamInfo:
    name: str
    members: tuple[str, ...]  # key ids

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "members": list(self.members)}


@dataclass(frozen=True)
class Reach:
    """Everything that decides what one key may reach, for people to read."""

    teams: tuple[str, ...]
    grants: tuple[Grant, ...]  # the key's own, then its teams'


def bump_versions(session: Session, principal: Principal) -> None:
    """Mark the reach of `principal` (a key, or every member of a team) as changed."""
    keys = (
        ApiKey.id == principal.name
        if principal.kind is PrincipalKind.KEY
        else ApiKey.id.in_(select(TeamMember.key_id).where(TeamMember.team == principal.name))
    )
    # In SQL, not read-then-write: two changes at once must not both write the same number.
    session.execute(update(ApiKey).where(keys).values(grants_version=ApiKey.grants_version + 1))


def load_access(session: Session, key: ApiKey, known: Access | None) -> Access:
    """`key`'s snapshot; `known` itself when nothing it depends on changed since."""
    scope = Scope(key.scope)
    default = None if key.default_permission is None else Level[key.default_permission]
    # Read with the key, before its grants: a change committed in between is in this snapshot
    # or bumps the version past it, so the next refresh rebuilds; it is never missed.
    version = key.grants_version
    if known is not None and known.key_id == key.id and known.version == version:
        return known
    grants = () if scope is Scope.ADMIN else _grants_reaching(session, key.id)
    return Access.build(key.id, scope, default, grants, version)


_PRINCIPAL_KINDS = {kind.value: kind for kind in PrincipalKind}
_RESOURCE_KINDS = {kind.value: kind for kind in ResourceKind}
_GRANT_COLUMNS = (
    GrantRow.principal_kind,
    GrantRow.principal,
    GrantRow.resource_kind,
    GrantRow.resource,
    GrantRow.prefix,
    GrantRow.level,
)


def _grants(session: Session, *where: Any) -> list[Grant]:
    rows = session.execute(
        select(*_GRANT_COLUMNS)
        .where(*where)
        .order_by(GrantRow.principal_kind, GrantRow.principal, GrantRow.resource_kind, GrantRow.id)
    )
    # A key's snapshot may hold thousands: one Principal per principal, no Enum() calls.
    principals: dict[tuple[str, str], Principal] = {}
    grants = []
    for principal_kind, name, resource_kind, resource, prefix, level in rows:
        principal = principals.get((principal_kind, name))
        if principal is None:
            principal = Principal(_PRINCIPAL_KINDS[principal_kind], name)
            principals[principal_kind, name] = principal
        grants.append(
            Grant(
                principal, Resource(_RESOURCE_KINDS[resource_kind], resource, prefix), Level[level]
            )
        )
    return grants


def _grants_reaching(session: Session, key_id: str) -> list[Grant]:
    teams = select(TeamMember.team).where(TeamMember.key_id == key_id)
    return _grants(
        session,
        or_(
            and_(GrantRow.principal_kind == "key", GrantRow.principal == key_id),
            and_(GrantRow.principal_kind == "team", GrantRow.principal.in_(teams)),
        ),
    )


def _now() -> datetime:
    return datetime.now(UTC)


class GrantStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create_team(self, name: str) -> None:
        name = team_name(name)
        with self._sessions.begin() as session:
            if session.get(Team, name) is not None:
                raise StoreError(f"team {name!r} exists already")
            session.add(Team(name=name, created_at=_now()))

    def delete_team(self, name: str) -> None:
        """The team, its memberships and every grant to it."""
        with self._sessions.begin() as session:
            _team(session, name)
            bump_versions(session, Principal.team(name))
            session.execute(delete(TeamMember).where(TeamMember.team == name))
            session.execute(
                delete(GrantRow).where(
                    GrantRow.principal_kind == "team", GrantRow.principal == name
                )
            )
            session.execute(delete(Team).where(Team.name == name))

    def add_member(self, team: str, key_id: str) -> None:
        with self._sessions.begin() as session:
            _team(session, team)
            key_row(session, key_id)
            if session.get(TeamMember, (team, key_id)) is None:
                session.add(TeamMember(team=team, key_id=key_id, added_at=_now()))
                bump_versions(session, Principal.key(key_id))

    def remove_member(self, team: str, key_id: str) -> None:
        with self._sessions.begin() as session:
            member = session.get(TeamMember, (_team(session, team).name, key_id))
            if member is None:
                raise StoreError(f"key {key_id!r} is not a member of team {team!r}")
            session.delete(member)
            bump_versions(session, Principal.key(key_id))

    def teams(self) -> Sequence[TeamInfo]:
        with self._sessions() as session:
            members: dict[str, list[str]] = {
                name: [] for name in session.scalars(select(Team.name).order_by(Team.name))
            }
            for team, key_id in session.execute(
                select(TeamMember.team, TeamMember.key_id).order_by(
                    TeamMember.added_at, TeamMember.key_id
                )
            ):
                members[team].append(key_id)
        return [TeamInfo(name, tuple(keys)) for name, keys in members.items()]

    def put(self, grant: Grant) -> None:
        """Grant `grant.level`, replacing any level the principal had on that resource."""
        with self._sessions.begin() as session:
            if grant.principal.kind is PrincipalKind.KEY:
                key_row(session, grant.principal.name)
            else:
                _team(session, grant.principal.name)
            _upsert(session, grant)
            bump_versions(session, grant.principal)

    def grant_owner(self, key_id: str, resource: Resource) -> Grant:
        """MANAGE for `key_id` on the experiment or registered model it has just created."""
        if resource.prefix:
            raise ValueError(f"{resource} is a name prefix, not a resource one can create")
        grant = Grant(Principal.key(key_id), resource, Level.MANAGE)
        self.put(grant)
        return grant

    def remove(self, principal: Principal, resource: Resource) -> None:
        with self._sessions.begin() as session:
            removed = session.execute(delete(GrantRow).where(*_identity(principal, resource)))
            if removed.rowcount == 0:  # type: ignore[attr-defined]  # a CursorResult
                raise StoreError(f"{principal} has no grant on {resource}")
            bump_versions(session, principal)

    def list(self, principal: Principal | None = None) -> Sequence[Grant]:
        where = (
            ()
            if principal is None
            else (
                GrantRow.principal_kind == principal.kind.value,
                GrantRow.principal == principal.name,
            )
        )
        with self._sessions() as session:
            return _grants(session, *where)

    def reach(self, key_id: str) -> Reach:
        with self._sessions() as session:
            key_row(session, key_id)
            teams = session.scalars(
                select(TeamMember.team).where(TeamMember.key_id == key_id).order_by(TeamMember.team)
            ).all()
            return Reach(tuple(teams), tuple(_grants_reaching(session, key_id)))


def key_row(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise UnknownKey(f"no key with id {key_id!r} (see `hokusai keys list`)")
    return row


def _team(session: Session, name: str) -> Team:
    row = session.get(Team, name)
    if row is None:
        raise UnknownTeam(f"no team {name!r} (see `hokusai teams list`)")
    return row


def _identity(principal: Principal, resource: Resource) -> tuple[Any, ...]:
    return (
        GrantRow.principal_kind == principal.kind.value,
        GrantRow.principal == principal.name,
        GrantRow.resource_kind == resource.kind.value,
        GrantRow.prefix == resource.prefix,
        GrantRow.resource == resource.name,
    )


def _upsert(session: Session, grant: Grant) -> None:
    """One statement, so two writers granting the same thing at once cannot collide."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(GrantRow).values(
        principal_kind=grant.principal.kind.value,
        principal=grant.principal.name,
        resource_kind=grant.resource.kind.value,
        prefix=grant.resource.prefix,
        resource=grant.resource.name,
        level=grant.level.name,
        created_at=_now(),
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=list(GRANT_IDENTITY), set_={"level": statement.excluded.level}
        )
    )
