"""a step's request id, unique within its episode

``steps.request_id`` is the id a client sent with a step (``request_id``). A step retried with
the id of one already applied to the episode gets that step's reply again instead of being
applied twice; the unique index is what refuses the second copy. Existing rows keep NULL, which
never collides.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=255), nullable=True))
        batch_op.create_index("ux_steps_episode_id_request_id", ["episode_id", "request_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ux_steps_episode_id_request_id")
        batch_op.drop_column("request_id")
