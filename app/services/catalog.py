"""Listing stored episodes: filters, sorting and page / limit pagination."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.models import Episode
from app.services.analytics import Filters

MAX_PAGE_SIZE = 200
SORT_COLUMNS = {
    "created_at": Episode.created_at,
    "finished_at": Episode.finished_at,
    "completion_score": Episode.completion_score,
    "step_count": Episode.step_count,
    "cumulative_reward": Episode.cumulative_reward,
}
SUMMARY_COLUMNS = ("id", "session_id", "task", "seed", "split", "status", "agent", "model",
                   "step_count", "max_steps", "cumulative_reward", "completion_score", "success",
                   "reports", "issues_found", "issues_expected", "false_positives", "duplicates",
                   "hints_used", "created_at", "updated_at", "finished_at")


@dataclass(frozen=True)
class EpisodeQuery:
    """What to list: the analytics filters plus status / success, sort and page."""

    filters: Filters = Filters()
    status: Optional[str] = None
    success: Optional[bool] = None
    sort: str = "created_at"
    order: str = "desc"
    page: int = 1
    limit: int = 50
    owner: Optional[str] = None  # API key's owner label: only its episodes (None: keys off)


def list_episodes(db: so.Session, query: EpisodeQuery) -> dict[str, Any]:
    """One page of episode summary rows, with the total count of matching episodes."""
    conditions = query.filters.conditions()
    if query.status is not None:
        conditions.append(Episode.status == query.status)
    if query.success is not None:
        conditions.append(Episode.success.is_(query.success))
    if query.owner is not None:
        conditions.append(Episode.owner == query.owner)
    column = SORT_COLUMNS[query.sort]
    ordering = column.desc() if query.order == "desc" else column.asc()
    tie_break = Episode.id.desc() if query.order == "desc" else Episode.id.asc()
    limit = min(query.limit, MAX_PAGE_SIZE)
    rows = db.execute(
        sa.select(*(getattr(Episode, name) for name in SUMMARY_COLUMNS))
        .where(*conditions)
        .order_by(ordering.nulls_last(), tie_break)
        .offset((query.page - 1) * limit)
        .limit(limit)
    )
    total = db.scalar(sa.select(sa.func.count()).select_from(Episode).where(*conditions)) or 0
    return {
        "items": [dict(row._mapping) for row in rows],
        "page": query.page,
        "limit": limit,
        "total": total,
        "pages": (total + limit - 1) // limit,
    }
