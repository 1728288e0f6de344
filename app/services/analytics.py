"""SQL analytics over every stored episode, portable between SQLite and Postgres.

Each query is a function ``(db, filters) -> list[dict]`` registered in :data:`QUERIES`. They
read the episodes' summary counters (kept current at every step) and ``episode_issues``
(written when an episode finishes); only ``calibration`` reads the steps table.

Percentiles use the nearest-rank method (the value at rank ceil(p * n) of the sorted scores),
computed in SQL with window functions so both databases give identical answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from app.models import Episode, EpisodeIssue, EpisodeStatus, Step

PERCENTILES = (10, 50, 90)
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Filters:
    """Common filters of every query (``None`` means no restriction)."""

    task: Optional[str] = None
    split: Optional[str] = None
    agent: Optional[str] = None
    model: Optional[str] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    bucket: str = "day"  # timeline only: "hour" or "day"

    def conditions(self) -> list[ColumnElement[bool]]:
        """WHERE clauses on ``episodes``."""
        clauses: list[ColumnElement[bool]] = []
        for name in ("task", "split", "agent", "model"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(getattr(Episode, name) == value)
        if self.since is not None:
            clauses.append(Episode.created_at >= self.since)
        if self.until is not None:
            clauses.append(Episode.created_at < self.until)
        return clauses


def _ratio(numerator: Any, denominator: Any) -> ColumnElement[Any]:
    """numerator / denominator as a float, NULL when the denominator is 0."""
    return sa.cast(numerator, sa.Float) / sa.func.nullif(denominator, 0)


def _mean(column: Any) -> ColumnElement[Any]:
    """AVG as a float on every backend (Postgres returns NUMERIC for integer columns)."""
    return sa.cast(sa.func.avg(column), sa.Float)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {key: round(value, 6) if isinstance(value, float) else value for key, value in row.items()}


def _episode_metrics(group: list[ColumnElement[Any]], filters: Filters) -> sa.Select[Any]:
    """Per-group episode counts, rates, means and score percentiles."""
    finished = Episode.status == EpisodeStatus.FINISHED
    scored = (
        sa.select(
            *group,
            Episode.completion_score.label("score"),
            sa.func.row_number().over(partition_by=group, order_by=Episode.completion_score).label("rank"),
            sa.func.count().over(partition_by=group).label("n"),
        )
        .where(finished, *filters.conditions())
        .subquery("scored")
    )
    scored_group = [scored.c[column.key] for column in group]
    percentiles = (
        sa.select(
            *scored_group,
            *(
                sa.func.max(sa.case((scored.c.rank == (pct * scored.c.n + 99) // 100, scored.c.score))).label(f"p{pct}")
                for pct in PERCENTILES
            ),
        )
        .group_by(*scored_group)
        .subquery("percentiles")
    )
    finished_int = sa.case((finished, 1), else_=0)
    totals = (
        sa.select(
            *group,
            sa.func.count().label("episodes"),
            sa.func.sum(finished_int).label("finished"),
            _ratio(sa.func.sum(sa.case((Episode.success.is_(True), 1), else_=0)), sa.func.sum(finished_int)).label("success_rate"),
            _mean(Episode.completion_score).label("mean_score"),
            _mean(Episode.step_count).label("mean_steps"),
            _mean(Episode.cumulative_reward).label("mean_total_reward"),
            _mean(Episode.hints_used).label("mean_hints"),
        )
        .where(*filters.conditions())
        .group_by(*group)
        .subquery("totals")
    )
    totals_group = [totals.c[column.key] for column in group]
    join_on = sa.and_(*(
        sa.or_(t == p, sa.and_(t.is_(None), p.is_(None)))
        for t, p in zip(totals_group, (percentiles.c[column.key] for column in group))
    ))
    return (
        sa.select(
            *totals_group,
            totals.c.episodes, totals.c.finished, totals.c.success_rate, totals.c.mean_score,
            percentiles.c.p50.label("median_score"), percentiles.c.p10.label("p10_score"),
            percentiles.c.p90.label("p90_score"), totals.c.mean_steps, totals.c.mean_total_reward,
            totals.c.mean_hints,
        )
        .select_from(totals.outerjoin(percentiles, join_on))
        .order_by(*totals_group)
    )


def summary(db: so.Session, filters: Filters) -> list[dict[str, Any]]:
    """Per task and split: episodes, finished, success rate, score mean / median / p10 / p90,
    mean steps, mean total reward, mean hints. Rates and scores cover finished episodes."""
    query = _episode_metrics([Episode.task, Episode.split], filters)
    return [_rounded(dict(row._mapping)) for row in db.execute(query)]


def agents(db: so.Session, filters: Filters) -> list[dict[str, Any]]:
    """The summary metrics per API key, agent and model label (and task): a leaderboard, best
    first. Agent and model are labels a client declares; ``owner`` (the key's label, None when
    keys are off) keeps two keys that declare the same labels apart."""
    query = _episode_metrics([Episode.owner, Episode.agent, Episode.model, Episode.task], filters)
    rows = [_rounded(dict(row._mapping)) for row in db.execute(query)]
    return sorted(rows, key=lambda r: (r["task"], -(r["mean_score"] or 0.0), r["agent"] or "", r["model"] or "",
                                       r["owner"] or ""))


def issues(db: so.Session, filters: Filters) -> list[dict[str, Any]]:
    """Per planted-issue kind (CWE or operator): how often found and missed, and the mean
    step at which it was found; the hardest (lowest find rate) first."""
    found_int = sa.case((EpisodeIssue.found.is_(True), 1), else_=0)
    query = (
        sa.select(
            EpisodeIssue.kind, EpisodeIssue.issue_type, EpisodeIssue.cwe,
            sa.func.count().label("planted"),
            sa.func.sum(found_int).label("found"),
            (sa.func.count() - sa.func.sum(found_int)).label("missed"),
            _ratio(sa.func.sum(found_int), sa.func.count()).label("find_rate"),
            _mean(EpisodeIssue.found_at_step).label("mean_steps_to_find"),
        )
        .join(Episode, Episode.id == EpisodeIssue.episode_id)
        .where(*filters.conditions())
        .group_by(EpisodeIssue.kind, EpisodeIssue.issue_type, EpisodeIssue.cwe)
    )
    rows = [_rounded(dict(row._mapping)) for row in db.execute(query)]
    return sorted(rows, key=lambda r: (r["find_rate"], -r["planted"], r["kind"]))


def false_positives(db: so.Session, filters: Filters) -> list[dict[str, Any]]:
    """False-positive and duplicate rates (per report) and decoys flagged, per task and agent."""
    query = (
        sa.select(
            Episode.task, Episode.agent,
            sa.func.count().label("episodes"),
            sa.func.sum(Episode.reports).label("reports"),
            sa.func.sum(Episode.false_positives).label("false_positives"),
            sa.func.sum(Episode.duplicates).label("duplicates"),
            sa.func.sum(Episode.decoys_flagged).label("decoys_flagged"),
            _ratio(sa.func.sum(Episode.false_positives), sa.func.sum(Episode.reports)).label("false_positive_rate"),
            _ratio(sa.func.sum(Episode.duplicates), sa.func.sum(Episode.reports)).label("duplicate_rate"),
            _ratio(sa.func.sum(Episode.decoys_flagged), sa.func.count()).label("decoys_per_episode"),
        )
        .where(*filters.conditions())
        .group_by(Episode.task, Episode.agent)
        .order_by(Episode.task, Episode.agent)
    )
    return [_rounded(dict(row._mapping)) for row in db.execute(query)]


def _confidence_bin(column: Any) -> ColumnElement[int]:
    # A CASE ladder rather than floor(): SQLite has no floor() without its math extension.
    whens = [(column < (index + 1) / CALIBRATION_BINS, index) for index in range(CALIBRATION_BINS - 1)]
    return sa.case(*whens, else_=CALIBRATION_BINS - 1)


def calibration(db: so.Session, filters: Filters) -> list[dict[str, Any]]:
    """Reported ``confidence`` in ten bins against the observed hit rate of those reports."""
    bin_ = _confidence_bin(Step.confidence).label("bin")
    hit = sa.case((Step.outcome == "match", 1), else_=0)
    inner = (
        sa.select(bin_, Step.confidence.label("confidence"), hit.label("hit"))
        .join(Episode, Episode.id == Step.episode_id)
        .where(Step.action_type == "identify_issue", Step.confidence.is_not(None), *filters.conditions())
        .subquery()
    )
    query = (
        sa.select(
            inner.c.bin,
            sa.func.count().label("reports"),
            _mean(inner.c.confidence).label("mean_confidence"),
            _ratio(sa.func.sum(inner.c.hit), sa.func.count()).label("hit_rate"),
        )
        .group_by(inner.c.bin)
        .order_by(inner.c.bin)
    )
    rows = []
    for row in db.execute(query):
        data = _rounded(dict(row._mapping))
        low = data["bin"] / CALIBRATION_BINS
        data["range"] = f"[{low:.1f}, {low + 1 / CALIBRATION_BINS:.1f}{']' if data['bin'] == CALIBRATION_BINS - 1 else ')'}"
        rows.append(data)
    return rows


class time_bucket(FunctionElement[str]):  # noqa: N801 - SQL function naming
    """Start of the hour or day of a timestamp, as text ``YYYY-MM-DD HH:00``."""

    type = sa.String()
    inherit_cache = True


@compiles(time_bucket, "sqlite")
def _bucket_sqlite(element: time_bucket, compiler: Any, **kw: Any) -> str:
    column, unit = list(element.clauses)
    fmt = "%Y-%m-%d %H:00" if unit.value == "hour" else "%Y-%m-%d 00:00"
    return f"strftime('{fmt}', {compiler.process(column, **kw)})"


@compiles(time_bucket, "postgresql")
def _bucket_postgres(element: time_bucket, compiler: Any, **kw: Any) -> str:
    column, unit = list(element.clauses)
    fmt = "YYYY-MM-DD HH24:00" if unit.value == "hour" else "YYYY-MM-DD 00:00"
    return (f"to_char(date_trunc('{'hour' if unit.value == 'hour' else 'day'}', "
            f"{compiler.process(column, **kw)} AT TIME ZONE 'UTC'), '{fmt}')")


def timeline(db: so.Session, filters: Filters) -> list[dict[str, Any]]:
    """Episodes started and mean score (of those finished) per hour or day (UTC)."""
    if filters.bucket not in ("hour", "day"):
        raise ValueError("bucket must be 'hour' or 'day'")
    bucket = time_bucket(Episode.created_at, sa.literal(filters.bucket, literal_execute=True)).label("bucket")
    query = (
        sa.select(
            bucket,
            sa.func.count().label("episodes"),
            sa.func.sum(sa.case((Episode.status == EpisodeStatus.FINISHED, 1), else_=0)).label("finished"),
            _mean(Episode.completion_score).label("mean_score"),
        )
        .where(*filters.conditions())
        .group_by(bucket)
        .order_by(bucket)
    )
    return [_rounded(dict(row._mapping)) for row in db.execute(query)]


QUERIES: dict[str, Callable[[so.Session, Filters], list[dict[str, Any]]]] = {
    "summary": summary,
    "agents": agents,
    "issues": issues,
    "false_positives": false_positives,
    "calibration": calibration,
    "timeline": timeline,
}


def run_query(db: so.Session, name: str, filters: Filters) -> list[dict[str, Any]]:
    """Run the analytics query called ``name``.

    Raises:
        KeyError: unknown query name.
    """
    return QUERIES[name](db, filters)
