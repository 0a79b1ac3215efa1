"""Per-resource permissions: teams, their members, grants; per key a default level, and a
version that every change to what the key may reach bumps.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_LEVELS = "('NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE')"


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column(
            "default_permission",
            sa.String(16),
            sa.CheckConstraint(f"default_permission IN {_LEVELS}", name="ck_api_keys_default"),
            nullable=True,
        ),
    )
    op.add_column(
        "api_keys",
        sa.Column("grants_version", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "teams",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column(
            "team",
            sa.String(100),
            sa.ForeignKey("teams.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "key_id",
            sa.String(32),
            sa.ForeignKey("api_keys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_team_members_key_id", "team_members", ["key_id"])
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("principal_kind", sa.String(8), nullable=False),
        sa.Column("principal", sa.String(100), nullable=False),
        sa.Column("resource_kind", sa.String(16), nullable=False),
        sa.Column("prefix", sa.Boolean, nullable=False),
        sa.Column("resource", sa.String(500), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "principal_kind",
            "principal",
            "resource_kind",
            "prefix",
            "resource",
            name="uq_grants_principal_resource",
        ),
        sa.CheckConstraint("principal_kind IN ('key', 'team')", name="ck_grants_principal"),
        sa.CheckConstraint("resource_kind IN ('experiment', 'model')", name="ck_grants_resource"),
        sa.CheckConstraint(f"level IN {_LEVELS}", name="ck_grants_level"),
    )


def downgrade() -> None:
    op.drop_table("grants")
    op.drop_index("ix_team_members_key_id", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_column("api_keys", "grants_version")
    op.drop_column("api_keys", "default_permission")
