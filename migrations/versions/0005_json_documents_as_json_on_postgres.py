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

from alembic import op


revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = {"episodes": ("state", "result"), "steps": ("action", "breakdown", "changes")}


def _convert(type_name: str) -> None:
    """Every column of ``COLUMNS`` to ``type_name``, one ``ALTER TABLE`` (one rewrite) per table."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        op.execute(f"ALTER TABLE {table} " + ", ".join(
            f"ALTER COLUMN {column} TYPE {type_name} USING {column}::{type_name}" for column in columns))


def upgrade() -> None:
    _convert("json")


def downgrade() -> None:
    _convert("jsonb")
