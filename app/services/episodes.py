"""Episode lifecycle over the database: start an episode, apply a step, read state and history.

Each function takes a SQLAlchemy session and never commits: the caller (a view or a
WebSocket handler) owns the transaction and commits before it replies.

A step restores the engine from the episode row's snapshot, applies the action, and writes the
new snapshot with ``UPDATE ... WHERE step_count = :seen`` plus a ``steps`` row whose
(episode_id, index) pair is unique. Two concurrent steps on one episode therefore cannot both
apply: the loser gets :class:`~app.errors.Conflict`.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.exc
import sqlalchemy.orm as so

from app.auth import ensure_visible, is_visible, may_see_answer_key
from app.env import CodeReviewerEnv, PlantedIssue, TaskRegistry
from app.errors import Conflict, NotFound
from app.models import Episode, EpisodeIssue, EpisodeStatus, Session, Step, utcnow
from app.services.stepping import (  # noqa: F401  (StepOutcome and summary_counters are re-exported)
    LiveEpisode, StepOutcome, issue_rows, prepare_reset, prepare_step, reset_conflict, summary_counters, write_reset,
    write_step)


def ensure_session(db: so.Session, session_id: Optional[str], transport: str = "http",
                   owner: Optional[str] = None) -> Session:
    """Return the session called ``session_id``, creating it (with a UUID when ``None``).

    ``owner`` is the API key's owner label (None when keys are off): another owner's session
    is reported unknown (NotFound).
    """
    if session_id is not None:
        existing = db.get(Session, session_id)
        if existing is not None:
            ensure_visible(existing.owner, owner, f"unknown session {session_id!r}")
            if existing.closed_at is not None:
                raise Conflict(f"session {session_id!r} is closed")
            return existing
    record = Session(id=session_id or str(uuid.uuid4()), transport=transport, owner=owner)
    db.add(record)
    return record


def start_episode(
    db: so.Session,
    registry: TaskRegistry,
    *,
    task: Optional[str] = None,
    session_id: Optional[str] = None,
    seed: Optional[int] = None,
    split: str = "train",
    episode_id: Optional[str] = None,
    agent: Optional[str] = None,
    model: Optional[str] = None,
    transport: str = "http",
    owner: Optional[str] = None,
    admin: bool = False,
) -> StepOutcome:
    """Start a new episode in a session (created if needed) on behalf of ``owner``.

    The session's previous episode, if still running, is marked abandoned: steps always go to
    the newest episode.

    Raises:
        ValidationFailed: unknown task (the message names the valid ones).
        Conflict: ``episode_id`` already exists, or the session is closed.
    """
    prepared = prepare_reset(registry, task=task, session_id=session_id, seed=seed, split=split,
                             episode_id=episode_id, agent=agent, model=model, transport=transport, owner=owner,
                             admin=admin)
    try:
        with db.begin_nested():  # a refused insert leaves the caller's transaction usable
            return write_reset(db.connection(), prepared)
    except sqlalchemy.exc.IntegrityError:
        raise reset_conflict(db.connection(), prepared) from None


def issue_outcomes(episode_id: str, planted: list[PlantedIssue], found: dict[str, int]) -> list[EpisodeIssue]:
    """One row per planted issue of a finished episode: found or missed, and at which step."""
    return [EpisodeIssue(**row) for row in issue_rows(episode_id, planted, found)]


def current_episode(db: so.Session, session_id: str, owner: Optional[str] = None) -> Episode:
    """The session's current episode.

    Raises:
        NotFound: unknown session (or another owner's), or a session with no episode yet.
    """
    row = db.execute(
        sa.select(Session.id, Session.owner, Episode)
        .outerjoin(Episode, Session.current_episode_id == Episode.id)
        .where(Session.id == session_id)
    ).first()
    if row is None or not is_visible(row.owner, owner):
        raise NotFound(f"unknown session {session_id!r}; call /reset first")
    if row.Episode is None:
        raise NotFound(f"session {session_id!r} has no episode; call /reset first")
    return row.Episode


def apply_step(db: so.Session, registry: TaskRegistry, episode: Episode, action: dict[str, Any]) -> StepOutcome:
    """Apply one action (already schema-validated) to an episode as it was read.

    ``episode`` is the row as loaded by :func:`current_episode`, typically in an earlier,
    read-only transaction: the write succeeds only if no other step was committed since that
    read. Two overlapping steps therefore never both apply, on SQLite (whose writers queue on
    one lock) as on Postgres.

    Raises:
        Conflict: the episode is finished or abandoned, or another step won the race.
        ValidationFailed: the engine rejects the action.
    """
    live = LiveEpisode(episode_id=episode.id, session_id=episode.session_id, status=episode.status,
                       step_count=episode.step_count, env=CodeReviewerEnv.restore(episode.state, registry))
    prepared = prepare_step(live, action)
    try:
        return write_step(db.connection(), prepared)
    except sqlalchemy.exc.IntegrityError:
        raise Conflict(f"step {episode.step_count + 1} of episode {episode.id!r} was already recorded; retry") from None


def session_state(db: so.Session, registry: TaskRegistry, session_id: str,
                  owner: Optional[str] = None) -> dict[str, Any]:
    """OpenEnv-style state of the session's current episode, with its observation."""
    episode = current_episode(db, session_id, owner)
    env = CodeReviewerEnv.restore(episode.state, registry)
    return {
        "episode_id": episode.id,
        "step_count": episode.step_count,
        "session_id": session_id,
        "task": episode.task,
        "seed": episode.seed,
        "split": episode.split,
        "status": episode.status,
        "done": episode.status != EpisodeStatus.RUNNING,
        "cumulative_reward": episode.cumulative_reward,
        "observation": env.observation().to_dict(),
    }


def session_result(db: so.Session, registry: TaskRegistry, session_id: str,
                   owner: Optional[str] = None, admin: bool = False) -> dict[str, Any]:
    """The review result of the session's current episode (final once finished); on an
    evaluation split, without the planted issues unless ``owner`` may see them (see
    :func:`~app.auth.may_see_answer_key`)."""
    episode = current_episode(db, session_id, owner)
    result = episode.result
    if result is None:
        result = CodeReviewerEnv.restore(episode.state, registry).get_review_result().to_dict()
    return result if may_see_answer_key(episode.split, owner, admin) else without_answer_key(result)


def without_answer_key(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its lists of planted issues emptied and ``answer_key_hidden`` set; the
    scores and counts stay (the steps' feedback already told which reports matched)."""
    return {**result, "matched_issues": [], "missed_issues": [], "answer_key_hidden": True}


def episode_history(db: so.Session, registry: TaskRegistry, episode_id: str,
                    owner: Optional[str] = None, admin: bool = False) -> dict[str, Any]:
    """The full record of an episode; planted issues and decoys only once it is finished, and
    on an evaluation split only to those who may see them (:func:`~app.auth.may_see_answer_key`).

    Raises:
        NotFound: unknown episode, or another owner's.
    """
    episode = db.get(Episode, episode_id)
    if episode is None or not is_visible(episode.owner, owner):
        raise NotFound(f"unknown episode {episode_id!r}")
    steps = db.scalars(episode.steps.select().order_by(Step.index)).all()
    record: dict[str, Any] = {
        column: getattr(episode, column)
        for column in ("id", "session_id", "task", "seed", "split", "status", "agent", "model",
                       "code", "file_name", "step_count", "max_steps", "cumulative_reward",
                       "completion_score", "success", "created_at", "updated_at", "finished_at",
                       "result")
    }
    record["steps"] = [
        {
            "index": step.index, "action": step.action, "outcome": step.outcome,
            "reward": step.reward, "breakdown": step.breakdown,
            "feedback": step.changes.get("feedback"), "changes": step.changes,
            "done": step.done, "created_at": step.created_at,
        }
        for step in steps
    ]
    # A pull request's diff is part of what the agent saw; the stored code is the code before it.
    task = registry.get(episode.task) if episode.task in registry.names() else None
    record["diff"] = (registry.episode(episode.task, seed=episode.seed, split=episode.split).diff
                      if task is not None and task.pull_request is not None else None)
    record["planted_issues"] = None
    record["decoys"] = None
    record["answer_key_hidden"] = not may_see_answer_key(episode.split, owner, admin)
    if record["answer_key_hidden"]:
        if episode.result is not None:
            record["result"] = without_answer_key(episode.result)
    elif episode.status == EpisodeStatus.FINISHED:
        env = CodeReviewerEnv.restore(episode.state, registry)
        record["planted_issues"] = [issue.to_dict() for issue in env.ground_truth()]
        record["decoys"] = [decoy.to_dict() for decoy in env.decoys()]
    return record


def session_exists(db: so.Session, session_id: str, owner: Optional[str] = None) -> bool:
    """Whether a session with this id was ever created (by ``owner`` when keys are on)."""
    session = db.get(Session, session_id)
    return session is not None and is_visible(session.owner, owner)


def close_session(db: so.Session, session_id: str, owner: Optional[str] = None) -> None:
    """Mark a session closed; its running episode becomes abandoned. Unknown ids (and other
    owners' sessions) are ignored."""
    session = db.get(Session, session_id)
    if session is None or session.closed_at is not None or not is_visible(session.owner, owner):
        return
    session.closed_at = utcnow()
    if session.current_episode_id is not None:
        db.execute(
            sa.update(Episode)
            .where(Episode.id == session.current_episode_id, Episode.status == EpisodeStatus.RUNNING)
            .values(status=EpisodeStatus.ABANDONED, updated_at=utcnow())
        )
