"""Housekeeping of stored episodes: marking the ones nobody steps any more abandoned.

An agent that crashes or loses its connection leaves its episode ``running`` for ever. Such
episodes are not deleted (their steps are training data): they are marked ``abandoned``, so
listings and analytics stop counting them as in progress and a late step gets 409.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.models import Episode, EpisodeStatus, utcnow


def abandon_idle_episodes(db: so.Session, idle_for: timedelta, now: Optional[datetime] = None) -> int:
    """Mark running episodes whose last change is older than ``idle_for`` abandoned.

    One ``UPDATE`` guarded by ``status = 'running' AND updated_at < cutoff`` (the running
    episodes are found through the ``(status, finished_at)`` index; ``updated_at`` is in no
    index, so that steps' updates touch none): a step committed meanwhile moves ``updated_at``
    past the cutoff, so an episode that is being played is never abandoned under its agent.

    Args:
        db: The session; the caller commits.
        idle_for: How long an episode may go without a step (must be positive).
        now: The reference time (UTC); the current time when ``None``.

    Returns:
        How many episodes were marked abandoned.

    Raises:
        ValueError: ``idle_for`` is not positive.
    """
    if idle_for <= timedelta(0):
        raise ValueError(f"idle_for must be positive, got {idle_for}")
    now = now or utcnow()
    result = db.execute(
        sa.update(Episode)
        .where(Episode.status == EpisodeStatus.RUNNING, Episode.updated_at < now - idle_for)
        .values(status=EpisodeStatus.ABANDONED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
