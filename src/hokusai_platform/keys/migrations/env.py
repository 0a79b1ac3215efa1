"""Alembic environment: always run programmatically, on the connection `database.migrate` passes."""

from __future__ import annotations

from alembic import context

from hokusai_platform.keys.database import VERSION_TABLE
from hokusai_platform.keys.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
