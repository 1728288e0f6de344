"""the deployment's episode secret; one play per key of each evaluation episode

``deployment_settings`` holds values every worker and host must share. The upgrade stores a new
random episode secret there: episodes of the evaluation splits are drawn from it as well as from
their seed, so the seed and the project's code alone do not reveal them.
(``CODEREVIEW_EPISODE_SECRET``, when set, is used instead of the stored one.)

``episodes.play_key`` is set for an evaluation-split episode started by a key that is not an
admin key; its unique index refuses a second start of the same episode by that key. Existing
rows keep NULL, which never collides, so the index builds on any existing data.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import secrets
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    settings = op.create_table(
        "deployment_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(settings, [{"name": "episode_secret", "value": secrets.token_hex(32)}])
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("play_key", sa.String(length=255), nullable=True))
        batch_op.create_index("ux_episodes_play_key", ["play_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index("ux_episodes_play_key")
        batch_op.drop_column("play_key")
    op.drop_table("deployment_settings")
