"""A key's MLflow workspace: when set, the gateway pins every request of the key to it.

Revision ID: 0004_workspaces
Revises: 0003_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_workspaces"
down_revision = "0003_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("workspace", sa.String(63), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "workspace")
