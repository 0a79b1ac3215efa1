"""The keys database's tables. The schema itself is created and changed only by the migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[str] = mapped_column(String(16), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    rate_limit: Mapped[int] = mapped_column(Integer)
    rate_period_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A level name (`NO_PERMISSIONS` … `MANAGE`); NULL: the level that follows from the scope.
    default_permission: Mapped[str | None] = mapped_column(String(16))
    # Bumped by every change to what the key may reach: its grants, teams, default level.
    grants_version: Mapped[int] = mapped_column(BigInteger)
    # The MLflow workspace every request of the key is pinned to; NULL: the caller's choice.
    workspace: Mapped[str | None] = mapped_column(String(63))


class Team(Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeamMember(Base):
    __tablename__ = "team_members"

    team: Mapped[str] = mapped_column(
        String(100), ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


# What makes two grants the same grant: one level per principal and resource.
GRANT_IDENTITY = ("principal_kind", "principal", "resource_kind", "prefix", "resource")


class GrantRow(Base):
    """One grant. `principal` is a key id or a team name; `resource` an experiment id, a model
    name, or (`prefix`) the start of experiment or model names."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint(*GRANT_IDENTITY, name="uq_grants_principal_resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal_kind: Mapped[str] = mapped_column(String(8))
    principal: Mapped[str] = mapped_column(String(100))
    resource_kind: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[bool]
    resource: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
