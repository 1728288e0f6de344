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
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.exc
import sqlalchemy.orm as so

from app.auth import ensure_visible, is_visible
from app.env import CodeReviewerAction, CodeReviewerEnv, CodeReviewerObservation, PlantedIssue, TaskRegistry
from app.env.models import CodeReviewerReward
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Episode, EpisodeIssue, EpisodeStatus, Session, Step, utcnow


@dataclass(frozen=True)
class StepOutcome:
    """What a reset or step produced, ready to be put on the wire."""

    session_id: str
    episode_id: str
    observation: CodeReviewerObservation
    reward: Optional[CodeReviewerReward]
    done: bool
    metadata: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        """The ``/reset`` and ``/step`` reply."""
        body: dict[str, Any] = {
            "observation": self.observation.to_dict(),
            "reward": self.reward.step_reward if self.reward is not None else None,
            "done": self.done,
            "session_id": self.session_id,
            "episode_id": self.episode_id,
        }
        if self.metadata:
            body["metadata"] = self.metadata
        return body


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
) -> StepOutcome:
    """Start a new episode in a session (created if needed) on behalf of ``owner``.

    The session's previous episode, if still running, is marked abandoned: steps always go to
    the newest episode.

    Raises:
        ValidationFailed: unknown task (the message names the valid ones).
        Conflict: ``episode_id`` already exists, or the session is closed.
    """
    task_name = task or registry.names()[0]
    try:
        env = CodeReviewerEnv(task_name=task_name, registry=registry)
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={"task": [str(exc)]}) from None
    if episode_id is not None and db.get(Episode, episode_id) is not None:
        raise Conflict(f"episode {episode_id!r} already exists")
    episode_key = episode_id or str(uuid.uuid4())
    try:
        observation = env.reset(seed=seed, episode_id=episode_key, split=split)
    except ValueError as exc:  # unknown split, or no base module of that split for this task
        raise ValidationFailed(str(exc), fields={"split": [str(exc)]}) from None

    session = ensure_session(db, session_id, transport, owner)
    if session.current_episode_id is not None:
        db.execute(
            sa.update(Episode)
            .where(Episode.id == session.current_episode_id, Episode.status == EpisodeStatus.RUNNING)
            .values(status=EpisodeStatus.ABANDONED, updated_at=utcnow())
        )
    spec = env.episode
    db.add(Episode(
        id=episode_key,
        session=session,
        task=task_name,
        seed=seed,
        split=split,
        owner=owner,
        code=spec.snippet.code,
        file_name=spec.snippet.file_name,
        status=EpisodeStatus.RUNNING,
        agent=agent,
        model=model,
        step_count=0,
        max_steps=env.task.max_steps,
        issues_expected=len(spec.issues),
        cumulative_reward=0.0,
        state=env.snapshot(),
    ))
    try:
        db.flush()
    except sqlalchemy.exc.IntegrityError:
        raise Conflict(f"episode {episode_key!r} or session {session.id!r} was created concurrently") from None
    # Set after the episode row exists: sessions and episodes reference each other.
    session.current_episode_id = episode_key
    db.flush()
    return StepOutcome(
        session_id=session.id,
        episode_id=episode_key,
        observation=observation,
        reward=None,
        done=False,
        metadata={"task": task_name, "seed": seed, "split": split},
    )


def summary_counters(snapshot: dict[str, Any]) -> dict[str, int]:
    """The episode row's summary counters, read from an engine snapshot."""
    return {
        "reports": len(snapshot["reports"]),
        "issues_found": len(snapshot["found"]),
        "false_positives": snapshot["false_positives"],
        "duplicates": snapshot["duplicates"],
        "decoys_flagged": snapshot["decoys_flagged"],
        "hints_used": snapshot["hints_used"],
    }


def issue_outcomes(episode_id: str, planted: list[PlantedIssue], found: dict[str, int]) -> list[EpisodeIssue]:
    """One row per planted issue of a finished episode: found or missed, and at which step."""
    return [
        EpisodeIssue(
            episode_id=episode_id, issue_id=issue.id, kind=issue.kind or issue.id, cwe=issue.cwe,
            issue_type=issue.issue_type.value, severity=issue.severity.value,
            found=issue.id in found, found_at_step=found.get(issue.id),
        )
        for issue in planted
    ]


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
    if episode.status != EpisodeStatus.RUNNING:
        raise Conflict(f"episode {episode.id!r} is {episode.status}; call /reset to start a new one")
    env = CodeReviewerEnv.restore(episode.state, registry)
    parsed = CodeReviewerAction.from_dict(action)
    observation, reward, done, info = env.step(parsed)

    seen = episode.step_count
    snapshot = env.snapshot()
    values: dict[str, Any] = {
        "step_count": seen + 1,
        "state": snapshot,
        "cumulative_reward": reward.cumulative_reward,
        "updated_at": utcnow(),
        **summary_counters(snapshot),
    }
    if done:
        result = env.get_review_result()
        values.update(
            status=EpisodeStatus.FINISHED,
            result=result.to_dict(),
            completion_score=result.completion_score,
            success=result.success,
            finished_at=values["updated_at"],
        )
    updated = db.execute(
        sa.update(Episode)
        .where(Episode.id == episode.id, Episode.step_count == seen,
               Episode.status == EpisodeStatus.RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:
        raise Conflict(f"another step was applied to episode {episode.id!r} concurrently; retry")
    db.add(Step(
        episode_id=episode.id,
        index=seen + 1,
        action_type=parsed.action_type.value,
        action=action,
        outcome=info["last_outcome"],
        confidence=parsed.confidence,
        reward=reward.step_reward,
        breakdown=reward.breakdown,
        changes={
            "feedback": observation.feedback,
            "hint_text": observation.hint_text,
            "issues_found": info["issues_found"],
            "hints_remaining": info["hints_remaining"],
        },
        done=done,
    ))
    if done:
        db.add_all(issue_outcomes(episode.id, env.ground_truth(), snapshot["found"]))
    try:
        db.flush()
    except sqlalchemy.exc.IntegrityError:
        raise Conflict(f"step {seen + 1} of episode {episode.id!r} was already recorded; retry") from None
    return StepOutcome(
        session_id=episode.session_id,
        episode_id=episode.id,
        observation=observation,
        reward=reward,
        done=done,
        metadata={"reward_breakdown": reward.breakdown, "cumulative_reward": reward.cumulative_reward},
    )


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
                   owner: Optional[str] = None) -> dict[str, Any]:
    """The review result of the session's current episode (final once finished)."""
    episode = current_episode(db, session_id, owner)
    if episode.result is not None:
        return episode.result
    return CodeReviewerEnv.restore(episode.state, registry).get_review_result().to_dict()


def episode_history(db: so.Session, registry: TaskRegistry, episode_id: str,
                    owner: Optional[str] = None) -> dict[str, Any]:
    """The full record of an episode; planted issues and decoys only once it is finished.

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
    record["planted_issues"] = None
    record["decoys"] = None
    if episode.status == EpisodeStatus.FINISHED:
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
