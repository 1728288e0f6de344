"""Replay: re-run a stored episode through the engine and compare every reward.

The engine is deterministic, so a stored episode re-created from (task, seed, split) and fed the
recorded actions must reproduce the recorded rewards exactly. A difference is a grader bug (or
tampered data) and is reported, never smoothed over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.env import (
    CodeReviewerAction,
    CodeReviewerEnv,
    CodeReviewerObservation,
    EpisodeFinished,
    InvalidAction,
    TaskRegistry,
)
from app.auth import is_visible
from app.errors import NotFound
from app.models import Episode, EpisodeStatus, Step

RESULT_FIELDS = ("completion_score", "success", "precision", "recall", "f1", "found", "expected",
                 "false_positives", "duplicates", "hints_used", "steps_used", "total_reward")


def replay_steps(
    registry: TaskRegistry, episode: Episode, steps: list[Step]
) -> tuple[CodeReviewerEnv, CodeReviewerObservation, list[dict[str, Any]]]:
    """Re-apply ``steps`` to a fresh engine episode.

    Returns:
        The engine, the first observation, and one comparison per step (with the replayed
        observation under ``observation`` when the step applied).
    """
    env = CodeReviewerEnv(task_name=episode.task, registry=registry)
    first = env.reset(seed=episode.seed, episode_id=episode.id, split=episode.split)
    compared = []
    for step in steps:
        entry: dict[str, Any] = {
            "index": step.index,
            "action": step.action,
            "recorded_reward": step.reward,
            "recorded_breakdown": step.breakdown,
            "recorded_done": step.done,
        }
        try:
            observation, reward, done, _ = env.step(CodeReviewerAction.from_dict(step.action))
        except (InvalidAction, EpisodeFinished) as exc:
            entry.update(replayed_reward=None, replayed_breakdown=None, replayed_done=None,
                         identical=False, error=str(exc))
        else:
            entry.update(
                replayed_reward=reward.step_reward,
                replayed_breakdown=reward.breakdown,
                replayed_done=done,
                observation=observation,
                identical=(reward.step_reward == step.reward and reward.breakdown == step.breakdown
                           and done == step.done),
            )
        compared.append(entry)
    return env, first, compared


def replay_episode(db: so.Session, registry: TaskRegistry, episode_id: str,
                   owner: Optional[str] = None) -> dict[str, Any]:
    """Replay one stored episode.

    Returns:
        ``identical`` (every step, the code and the final result agree), ``code_identical``,
        ``divergences`` (how many steps differ), each step's recorded and replayed reward and
        breakdown side by side, and both results.

    Raises:
        NotFound: unknown episode, or another owner's (``owner`` None: keys are off).
    """
    episode = db.get(Episode, episode_id)
    if episode is None or not is_visible(episode.owner, owner):
        raise NotFound(f"unknown episode {episode_id!r}")
    steps = list(db.scalars(episode.steps.select().order_by(Step.index)))
    env, _, compared = replay_steps(registry, episode, steps)
    for entry in compared:
        entry.pop("observation", None)
    code_identical = env.episode.snippet.code == episode.code
    replayed_result = {key: env.get_review_result().to_dict()[key] for key in RESULT_FIELDS}
    recorded_result = ({key: episode.result.get(key) for key in RESULT_FIELDS}
                       if episode.result is not None else None)
    result_identical = recorded_result is None or recorded_result == replayed_result
    divergences = sum(1 for entry in compared if not entry["identical"])
    return {
        "episode_id": episode.id,
        "task": episode.task,
        "seed": episode.seed,
        "split": episode.split,
        "status": episode.status,
        "identical": divergences == 0 and code_identical and result_identical,
        "code_identical": code_identical,
        "result_identical": result_identical,
        "divergences": divergences,
        "steps": compared,
        "recorded_result": recorded_result,
        "replayed_result": replayed_result,
    }


def episode_ids(db: so.Session, since: Optional[datetime] = None, finished_only: bool = True) -> Iterator[str]:
    """Ids of stored episodes (oldest first), streamed, for audits."""
    query = sa.select(Episode.id).order_by(Episode.created_at, Episode.id)
    if since is not None:
        query = query.where(Episode.created_at >= since)
    if finished_only:
        query = query.where(Episode.status == EpisodeStatus.FINISHED)
    yield from db.scalars(query.execution_options(yield_per=1000))


def count_episodes(db: so.Session, since: Optional[datetime] = None, finished_only: bool = True) -> int:
    """How many episodes :func:`episode_ids` yields."""
    query = sa.select(sa.func.count()).select_from(Episode)
    if since is not None:
        query = query.where(Episode.created_at >= since)
    if finished_only:
        query = query.where(Episode.status == EpisodeStatus.FINISHED)
    return db.scalar(query) or 0
