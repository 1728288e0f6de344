"""Trajectory export for training: one record per episode, streamed in constant memory.

A record holds the episode's identity and labels, the code (and a pull request's diff), every step's observation (as the
agent saw it before acting, without the code, which is given once), action, reward and reward
breakdown, the result, and two conversational fields that TRL's trainers read directly:
``prompt`` (system + user messages: task and numbered code) and ``completion`` (one assistant
message: the JSON list of actions taken). See README "Export".

Observations are not stored step by step; they are re-created by replaying the recorded
actions through the deterministic engine (``replay_identical`` says whether the replay
reproduced every recorded reward).
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.env import CodeReviewerObservation, TaskRegistry
from app.env.diffs import apply_unified_diff
from app.models import Episode, EpisodeStatus, Step
from app.services.analytics import Filters
from app.services.replay import replay_steps

SYSTEM_PROMPT = (
    "You are a code reviewer. Report each issue of the code as one JSON action per turn: "
    '{"action_type": "identify_issue", "issue": {"line_number": N, "issue_type": "...", '
    '"severity": "...", "description": "...", "suggested_fix": "..."}}, or '
    '{"action_type": "request_hint"}, or {"action_type": "submit_review"}.'
)
EXPORT_VERSION = 1


def numbered(code: str) -> str:
    """The code with 1-based line numbers, as agents are shown it."""
    return "\n".join(f"{number:>4} | {line}" for number, line in enumerate(code.split("\n"), start=1))


def _observation_view(observation: CodeReviewerObservation) -> dict[str, Any]:
    view = observation.to_dict()
    del view["code_snippet"], view["diff"]  # given once, in the record
    return view


def build_record(registry: TaskRegistry, episode: Episode, steps: list[Step]) -> dict[str, Any]:
    """The export record of one episode."""
    _, before, compared = replay_steps(registry, episode, steps)
    diff = before.diff
    step_records = []
    for step, entry in zip(steps, compared):
        step_records.append({
            "index": step.index,
            "observation": _observation_view(before),
            "action": step.action,
            "reward": step.reward,
            "reward_breakdown": step.breakdown,
            "done": step.done,
            "feedback": (step.changes or {}).get("feedback"),
        })
        if entry.get("observation") is not None:
            before = entry["observation"]
    if diff is None:
        user = f"{before.task_description}\n\nFile: {episode.file_name}\n\n{numbered(episode.code)}"
    else:
        after = apply_unified_diff(episode.code, diff).code.rstrip("\n")
        user = (f"{before.task_description}\n\nFile: {episode.file_name}\n\nPull request:\n{diff.rstrip()}"
                f"\n\nCode after the pull request:\n{numbered(after)}")
    actions = [step.action for step in steps]
    return {
        "export_version": EXPORT_VERSION,
        "episode_id": episode.id,
        "task": episode.task,
        "seed": episode.seed,
        "split": episode.split,
        "status": episode.status,
        "agent": episode.agent,
        "model": episode.model,
        "file_name": episode.file_name,
        "code": episode.code,
        "diff": diff,
        "steps": step_records,
        "num_steps": len(steps),
        "total_reward": episode.cumulative_reward,
        "completion_score": episode.completion_score,
        "success": episode.success,
        "result": episode.result,
        "replay_identical": all(entry["identical"] for entry in compared),
        "created_at": episode.created_at.isoformat() if episode.created_at else None,
        "prompt": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
        "completion": [{"role": "assistant", "content": json.dumps(actions)}],
    }


def iter_records(
    db: so.Session, registry: TaskRegistry, filters: Filters, status: Optional[str] = EpisodeStatus.FINISHED,
    batch_size: int = 500,
) -> Iterator[dict[str, Any]]:
    """Export records of the matching episodes, oldest first.

    Episodes are read in keyset-paginated batches and their steps fetched per batch, so memory
    stays bounded by ``batch_size`` whatever the number of episodes.
    """
    conditions = filters.conditions()
    if status is not None:
        conditions.append(Episode.status == status)
    after: Optional[tuple[Any, str]] = None
    while True:
        query = (sa.select(Episode).options(so.defer(Episode.state)).where(*conditions)
                 .order_by(Episode.created_at, Episode.id).limit(batch_size))
        if after is not None:
            query = query.where(sa.tuple_(Episode.created_at, Episode.id) > after)
        episodes = list(db.scalars(query))
        if not episodes:
            return
        steps_by_episode: dict[str, list[Step]] = {episode.id: [] for episode in episodes}
        for step in db.scalars(
            sa.select(Step).where(Step.episode_id.in_(steps_by_episode)).order_by(Step.episode_id, Step.index)
        ):
            steps_by_episode[step.episode_id].append(step)
        for episode in episodes:
            yield build_record(registry, episode, steps_by_episode[episode.id])
        after = (episodes[-1].created_at, episodes[-1].id)
        db.expunge_all()


def jsonl_lines(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    """One JSON document per line."""
    for record in records:
        yield json.dumps(record, separators=(",", ":"), default=str) + "\n"


def parquet_schema():  # type: ignore[no-untyped-def]
    """The Arrow schema of the Parquet export: scalars as columns, ``prompt`` / ``completion``
    as lists of {role, content}, and the nested ``steps`` / ``result`` as JSON text."""
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("export_version", pa.int32()), ("episode_id", pa.string()), ("task", pa.string()),
        ("seed", pa.int64()), ("split", pa.string()), ("status", pa.string()),
        ("agent", pa.string()), ("model", pa.string()), ("file_name", pa.string()),
        ("code", pa.string()), ("steps", pa.string()), ("num_steps", pa.int32()),
        ("total_reward", pa.float64()), ("completion_score", pa.float64()), ("success", pa.bool_()),
        ("result", pa.string()), ("replay_identical", pa.bool_()), ("created_at", pa.string()),
        ("prompt", pa.list_(message)), ("completion", pa.list_(message)),
    ])


def write_parquet(records: Iterator[dict[str, Any]], path: str, batch_size: int = 1000) -> int:
    """Write records to a Parquet file, one row group per ``batch_size`` records; returns the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        batch: list[dict[str, Any]] = []
        for record in records:
            row = dict(record)
            row["steps"] = json.dumps(row["steps"], default=str)
            row["result"] = json.dumps(row["result"], default=str) if row["result"] is not None else None
            batch.append(row)
            if len(batch) >= batch_size:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                written += len(batch)
                batch.clear()
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            written += len(batch)
    return written
