"""episode summary counters and per-issue outcomes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:20:23.578539
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('episode_issues',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('episode_id', sa.String(length=128), nullable=False),
    sa.Column('issue_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=128), nullable=False),
    sa.Column('cwe', sa.String(length=32), nullable=True),
    sa.Column('issue_type', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('found', sa.Boolean(), nullable=False),
    sa.Column('found_at_step', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_episode_issues_episode_id_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_episode_issues')),
    sa.UniqueConstraint('episode_id', 'issue_id', name='uq_episode_issues_episode_id_issue_id')
    )
    with op.batch_alter_table('episode_issues', schema=None) as batch_op:
        batch_op.create_index('ix_episode_issues_kind', ['kind'], unique=False)

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reports', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('issues_found', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('issues_expected', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('false_positives', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('duplicates', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('decoys_flagged', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('hints_used', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index('ix_episodes_status_finished', ['status', 'finished_at'], unique=False)
        batch_op.create_index('ix_episodes_scores_by_task', ['status', 'task', 'split', 'completion_score'], unique=False)
        batch_op.create_index('ix_episodes_scores_by_agent', ['status', 'agent', 'model', 'task', 'completion_score'], unique=False)

    _backfill_counters()


def _backfill_counters() -> None:
    """Fill the new counters of existing episodes from their stored engine snapshots."""
    episodes = sa.table(
        'episodes', sa.column('id', sa.String), sa.column('state', sa.JSON), sa.column('result', sa.JSON),
        *(sa.column(name, sa.Integer) for name in COUNTERS),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(episodes.c.id, episodes.c.state, episodes.c.result)).all()
    for row in rows:
        state, result = row.state or {}, row.result or {}
        bind.execute(episodes.update().where(episodes.c.id == row.id).values(
            reports=len(state.get('reports', [])),
            issues_found=len(state.get('found', {})),
            issues_expected=int(result.get('expected', 0)),
            false_positives=int(state.get('false_positives', 0)),
            duplicates=int(state.get('duplicates', 0)),
            decoys_flagged=int(state.get('decoys_flagged', 0)),
            hints_used=int(state.get('hints_used', 0)),
        ))


COUNTERS = ('reports', 'issues_found', 'issues_expected', 'false_positives', 'duplicates',
            'decoys_flagged', 'hints_used')



def downgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index('ix_episodes_scores_by_agent')
        batch_op.drop_index('ix_episodes_scores_by_task')
        batch_op.drop_index('ix_episodes_status_finished')
        batch_op.drop_column('hints_used')
        batch_op.drop_column('decoys_flagged')
        batch_op.drop_column('duplicates')
        batch_op.drop_column('false_positives')
        batch_op.drop_column('issues_expected')
        batch_op.drop_column('issues_found')
        batch_op.drop_column('reports')

    with op.batch_alter_table('episode_issues', schema=None) as batch_op:
        batch_op.drop_index('ix_episode_issues_kind')

    op.drop_table('episode_issues')
