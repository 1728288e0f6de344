"""Postgres: the JSON columns as ``json`` instead of ``jsonb``

The service writes and reads these documents whole (the engine's snapshot, an action, a
reward's breakdown, a step's changes, an episode's result) and no query looks inside them.
``jsonb`` converts every value written into its binary form (parsing it and sorting its keys)
and back into text for every read; ``json`` checks that the value is JSON and keeps its text.
The conversion was about a tenth of Postgres' CPU per step. On SQLite nothing changes: its
JSON columns are text either way.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 02:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# table: (column, nullable)
COLUMNS = {
    "episodes": (("state", False), ("result", True)),
    "steps": (("action", False), ("breakdown", False), ("changes", False)),
}


def _convert(old: sa.types.TypeEngine, new: sa.types.TypeEngine, cast: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column, nullable in columns:
            op.alter_column(table, column, existing_type=old, type_=new, existing_nullable=nullable,
                            postgresql_using=f"{column}::{cast}")


def upgrade() -> None:
    _convert(postgresql.JSONB(astext_type=sa.Text()), sa.JSON(), "json")


def downgrade() -> None:
    _convert(sa.JSON(), postgresql.JSONB(astext_type=sa.Text()), "jsonb")
