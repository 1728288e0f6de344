"""Persistent records: sessions, episodes and steps. The database is the source of truth.

An episode row holds the engine's snapshot (``state``), so any worker can restore it, apply a
step and write it back. ``step_count`` doubles as an optimistic lock: a step is written with
``UPDATE ... WHERE step_count = :seen``, and the unique (episode_id, index) pair of ``steps``
backs it, so two concurrent steps on one episode never both apply.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import Base

# Documents read and written whole, never queried inside: on Postgres ``json``, which keeps the
# text written, rather than ``jsonb``, which parses every value written into a binary form and
# prints it back for every read (a tenth of Postgres' CPU per step; migration 0005).
JSONType = sa.JSON()


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(timezone.utc)


class EpisodeStatus:
    """Values of ``Episode.status``."""

    RUNNING = "running"
    FINISHED = "finished"
    ABANDONED = "abandoned"
    ALL = (RUNNING, FINISHED, ABANDONED)


class Session(Base):
    """A client's session: a sequence of episodes, one current at a time."""

    __tablename__ = "sessions"

    id: so.Mapped[str] = so.mapped_column(sa.String(128), primary_key=True)
    transport: so.Mapped[str] = so.mapped_column(sa.String(16), default="http")
    # Name of the API key that created the session (None when keys are off): only that key
    # sees the session and its episodes.
    owner: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    current_episode_id: so.Mapped[Optional[str]] = so.mapped_column(
        sa.String(128), sa.ForeignKey("episodes.id", use_alter=True, ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    closed_at: so.Mapped[Optional[datetime]] = so.mapped_column(sa.DateTime(timezone=True))


class Episode(Base):
    """One episode: its identity (task, seed, split), the code, labels, progress and result."""

    __tablename__ = "episodes"
    __table_args__ = (
        sa.Index("ix_episodes_session_created", "session_id", "created_at"),
        sa.Index("ix_episodes_task_split_status", "task", "split", "status"),
        sa.Index("ix_episodes_agent_model", "agent", "model"),
        sa.Index("ix_episodes_created_at", "created_at"),
        # Also finds running episodes for the idle sweep. No index holds a column that every
        # step changes (updated_at, step_count, state, counters): a step's update then touches
        # no index, and on Postgres it is a HOT update.
        sa.Index("ix_episodes_status_finished", "status", "finished_at"),
        sa.Index("ix_episodes_owner_created", "owner", "created_at"),
        # Score percentiles per group read these in order instead of sorting (analytics).
        sa.Index("ix_episodes_scores_by_task", "status", "task", "split", "completion_score"),
        sa.Index("ix_episodes_scores_by_agent", "status", "agent", "model", "task", "completion_score"),
        # An evaluation episode is played once per agent key (see ``play_key``).
        sa.Index("ux_episodes_play_key", "play_key", unique=True),
    )

    id: so.Mapped[str] = so.mapped_column(sa.String(128), primary_key=True)
    session_id: so.Mapped[str] = so.mapped_column(
        sa.String(128), sa.ForeignKey("sessions.id", ondelete="CASCADE")
    )
    task: so.Mapped[str] = so.mapped_column(sa.String(64))
    seed: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    split: so.Mapped[str] = so.mapped_column(sa.String(16), default="train")
    owner: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    # ``owner|task|split|seed`` for an evaluation-split episode started by a key that is not an
    # admin key, else NULL: unique, so such a key cannot play an evaluation episode a second
    # time with what the first play taught it. NULLs never collide.
    play_key: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    code: so.Mapped[str] = so.mapped_column(sa.Text)
    file_name: so.Mapped[str] = so.mapped_column(sa.String(255))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=EpisodeStatus.RUNNING)
    agent: so.Mapped[Optional[str]] = so.mapped_column(sa.String(128))
    model: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    step_count: so.Mapped[int] = so.mapped_column(sa.Integer, default=0)
    max_steps: so.Mapped[int] = so.mapped_column(sa.Integer)
    cumulative_reward: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)
    completion_score: so.Mapped[Optional[float]] = so.mapped_column(sa.Float)
    success: so.Mapped[Optional[bool]] = so.mapped_column(sa.Boolean)
    # Summary counters kept current at every step, so analytics never scan the steps table.
    reports: so.Mapped[int] = so.mapped_column(sa.Integer, default=0, server_default="0")
    issues_found: so.Mapped[int] = so.mapped_column(sa.Integer, default=0, server_default="0")
    issues_expected: so.Mapped[int] = so.mapped_column(sa.Integer, default=0, server_default="0")
    false_positives: so.Mapped[int] = so.mapped_column(sa.Integer, default=0, server_default="0")
    duplicates: so.Mapped[int] = so.mapped_column(sa.Integer, default=0, server_default="0")
    decoys_flagged: so.Mapped[int] = so.mapped_column(sa.Integer, default=0, server_default="0")
    hints_used: so.Mapped[int] = so.mapped_column(sa.Integer, default=0, server_default="0")
    state: so.Mapped[dict[str, Any]] = so.mapped_column(JSONType)
    result: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(JSONType)
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    finished_at: so.Mapped[Optional[datetime]] = so.mapped_column(sa.DateTime(timezone=True))

    session: so.Mapped[Session] = so.relationship(foreign_keys=[session_id])
    steps: so.WriteOnlyMapped["Step"] = so.relationship(
        back_populates="episode", order_by="Step.index", passive_deletes=True
    )


class Step(Base):
    """One applied action with its reward and what it changed in the observation."""

    __tablename__ = "steps"
    __table_args__ = (
        sa.UniqueConstraint("episode_id", "index", name="uq_steps_episode_id_index"),
        # A retried step carrying the id of one already applied is refused here, then answered
        # with that step's reply (see app.services.stepping).
        sa.Index("ux_steps_episode_id_request_id", "episode_id", "request_id", unique=True),
    )

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    episode_id: so.Mapped[str] = so.mapped_column(
        sa.String(128), sa.ForeignKey("episodes.id", ondelete="CASCADE")
    )
    index: so.Mapped[int] = so.mapped_column(sa.Integer)
    action_type: so.Mapped[str] = so.mapped_column(sa.String(32))
    action: so.Mapped[dict[str, Any]] = so.mapped_column(JSONType)
    outcome: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    confidence: so.Mapped[Optional[float]] = so.mapped_column(sa.Float)
    reward: so.Mapped[float] = so.mapped_column(sa.Float)
    breakdown: so.Mapped[dict[str, float]] = so.mapped_column(JSONType)
    changes: so.Mapped[dict[str, Any]] = so.mapped_column(JSONType)
    done: so.Mapped[bool] = so.mapped_column(sa.Boolean, default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # The client's id for this step (``request_id``), unique within the episode.
    request_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))

    episode: so.Mapped[Episode] = so.relationship(back_populates="steps")


class EpisodeIssue(Base):
    """Outcome of one planted issue in a finished episode: found or missed, and when."""

    __tablename__ = "episode_issues"
    __table_args__ = (
        sa.UniqueConstraint("episode_id", "issue_id", name="uq_episode_issues_episode_id_issue_id"),
        sa.Index("ix_episode_issues_kind", "kind"),
    )

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    episode_id: so.Mapped[str] = so.mapped_column(
        sa.String(128), sa.ForeignKey("episodes.id", ondelete="CASCADE")
    )
    issue_id: so.Mapped[str] = so.mapped_column(sa.String(128))
    kind: so.Mapped[str] = so.mapped_column(sa.String(128))
    cwe: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    issue_type: so.Mapped[str] = so.mapped_column(sa.String(32))
    severity: so.Mapped[str] = so.mapped_column(sa.String(16))
    found: so.Mapped[bool] = so.mapped_column(sa.Boolean)
    found_at_step: so.Mapped[Optional[int]] = so.mapped_column(sa.Integer)


class DeploymentSetting(Base):
    """A value the whole deployment shares (every worker, every host): the episode secret."""

    __tablename__ = "deployment_settings"

    name: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    value: so.Mapped[str] = so.mapped_column(sa.Text)
