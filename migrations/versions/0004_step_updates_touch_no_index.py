"""drop the (status, updated_at) index: a step's update then changes no indexed column

Every step rewrites ``episodes.updated_at``. With that column in an index, each step also
rewrote an entry in the index, and on Postgres it made every step's update a non-HOT update,
which adds an entry to every one of the table's indexes. The idle-episode sweep finds running
episodes through ``ix_episodes_status_finished`` (its leading column is ``status``) and checks
``updated_at`` on the rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op


revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_episodes_status_updated")


def downgrade() -> None:
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.create_index("ix_episodes_status_updated", ["status", "updated_at"], unique=False)
