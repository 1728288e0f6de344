"""The evaluation harness: play N episodes of an agent per task and measure it.

Episodes are stored like any other: in-process through :mod:`app.services.episodes` (one short
transaction per reset and per step, exactly as the WebSocket handler does), or on a server
through :class:`~app.client.CodeReviewerClient`. Each episode gets a fresh agent seeded with
the episode's seed, so a run is reproducible whatever the number of workers.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional, Protocol

from app.agents.base import Agent, EpisodeContext
from app.agents.registry import make_agent, model_label, requires_answer_key
from app.client import CodeReviewerClient
from app.db import Database
from app.env import CodeReviewerAction, CodeReviewerObservation, ReviewResult, TaskRegistry
from app.services import episodes

LOCAL_TRANSPORT = "local"


class EpisodeRunner(Protocol):
    """Plays one whole episode of an agent and returns its final result."""

    where: str

    def run(self, agent: Agent, task: str, seed: int, split: str) -> ReviewResult:
        """Reset, let the agent act until done, return the result."""


def play(agent: Agent, observation: CodeReviewerObservation,
         step: Callable[[CodeReviewerAction], CodeReviewerObservation]) -> None:
    """Ask the agent for actions and apply them with ``step`` until the episode is done."""
    while not observation.done:
        observation = step(agent.act(observation))


class LocalRunner:
    """Episodes stored in this application's database, played without a server.

    Args:
        database: The application's database.
        registry: The application's task registry.
    """

    where = "in-process"

    def __init__(self, database: Database, registry: TaskRegistry) -> None:
        self.database, self.registry = database, registry

    def run(self, agent: Agent, task: str, seed: int, split: str) -> ReviewResult:
        """Play one episode; each reset and step is its own committed transaction."""
        with self.database.transaction() as db:
            outcome = episodes.start_episode(db, self.registry, task=task, seed=seed, split=split,
                                             agent=agent.name, model=model_label(agent),
                                             transport=LOCAL_TRANSPORT)
        answer_key = self.registry.episode(task, seed=seed, split=split).issues if requires_answer_key(agent) else None
        agent.begin(outcome.observation, EpisodeContext(task_name=task, seed=seed, ground_truth=answer_key))

        def step(action: CodeReviewerAction) -> CodeReviewerObservation:
            with self.database.session() as reader:
                episode = episodes.current_episode(reader, outcome.session_id)
            with self.database.transaction() as db:
                return episodes.apply_step(db, self.registry, episode, action.to_dict()).observation

        play(agent, outcome.observation, step)
        with self.database.transaction(write=False) as db:
            return ReviewResult.from_dict(episodes.session_result(db, self.registry, outcome.session_id))


class RemoteRunner:
    """Episodes played on a server, which stores them.

    Args:
        url: The server's base URL.
        transport: ``http`` or ``ws``.
        timeout: Seconds to wait for each reply.
    """

    def __init__(self, url: str, transport: str = "http", timeout: float = 30.0) -> None:
        self.url, self.transport, self.timeout = url, transport, timeout
        self.where = url

    def run(self, agent: Agent, task: str, seed: int, split: str) -> ReviewResult:
        """Play one episode in a session of its own.

        Raises:
            ValueError: the agent reads the answer key, which never leaves the server.
            app.client.ClientError: the server refused a request or cannot be reached.
        """
        if requires_answer_key(agent):
            raise ValueError(f"the {agent.name!r} agent reads the answer key: it runs in-process only")
        with CodeReviewerClient(self.url, transport=self.transport, timeout=self.timeout) as client:
            first = client.reset(task=task, seed=seed, split=split, agent=agent.name, model=model_label(agent))
            agent.begin(first.observation, EpisodeContext(task_name=task, seed=seed))
            play(agent, first.observation, lambda action: client.step(action).observation)
            return client.result()


@dataclass(frozen=True)
class TaskMetrics:
    """How an agent did on one task.

    Attributes:
        task: Task name.
        episodes: Episodes played.
        mean_completion_score: Mean of the episodes' ``completion_score``.
        median_completion_score: Median of the same.
        success_rate: Share of episodes that reached the task's threshold.
        precision: Mean per-episode precision (true reports / reports).
        recall: Mean per-episode severity-weighted recall.
        false_positive_rate: False positives / reports, over all episodes (0 without reports).
        mean_steps: Mean steps per episode.
        episodes_per_second: Episodes played per second of wall time.
    """

    task: str
    episodes: int
    mean_completion_score: float
    median_completion_score: float
    success_rate: float
    precision: float
    recall: float
    false_positive_rate: float
    mean_steps: float
    episodes_per_second: float

    @classmethod
    def from_results(cls, task: str, results: list[ReviewResult], seconds: float) -> "TaskMetrics":
        """Aggregate the results of one task's episodes."""
        scores = [result.completion_score for result in results]
        reports = sum(r.found + r.false_positives + r.duplicates for r in results)
        return cls(
            task=task,
            episodes=len(results),
            mean_completion_score=round(statistics.fmean(scores), 4),
            median_completion_score=round(statistics.median(scores), 4),
            success_rate=round(sum(r.success for r in results) / len(results), 4),
            precision=round(statistics.fmean(r.precision for r in results), 4),
            recall=round(statistics.fmean(r.recall for r in results), 4),
            false_positive_rate=round(sum(r.false_positives for r in results) / reports, 4) if reports else 0.0,
            mean_steps=round(statistics.fmean(r.steps_used for r in results), 2),
            episodes_per_second=round(len(results) / seconds, 2) if seconds > 0 else float(len(results)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class EvaluationReport:
    """The metrics of one evaluation run, per task."""

    agent: str
    model: str
    split: str
    where: str
    seed_start: int
    workers: int
    tasks: list[TaskMetrics]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {**asdict(self), "tasks": [metrics.to_dict() for metrics in self.tasks]}


def evaluate(
    runner: EpisodeRunner,
    agent_name: str,
    tasks: list[str],
    *,
    split: str = "test",
    episodes: int = 50,
    seed_start: int = 0,
    workers: int = 1,
    on_episode: Optional[Callable[[str, ReviewResult], None]] = None,
) -> EvaluationReport:
    """Play ``episodes`` episodes (seeds ``seed_start`` ...) of an agent on each task.

    Args:
        runner: Where episodes are played: :class:`LocalRunner` or :class:`RemoteRunner`.
        agent_name: A name :func:`~app.agents.registry.make_agent` knows.
        tasks: Task names, played one after another.
        split: ``train``, ``validation``, ``test`` or ``holdout``.
        episodes: Episodes per task (at least 1).
        seed_start: Seed of the first episode; episode ``i`` uses ``seed_start + i``.
        workers: Episodes played at once (threads).
        on_episode: Called with the task and result after every episode (from worker threads).

    Raises:
        ValueError: unknown agent, no episodes or workers, or an answer-key agent on a server.
    """
    if episodes < 1 or workers < 1:
        raise ValueError("episodes and workers must be at least 1")
    probe = make_agent(agent_name)
    seeds = range(seed_start, seed_start + episodes)
    metrics = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evaluate") as pool:
        for task in tasks:
            def run_one(seed: int, task: str = task) -> ReviewResult:
                result = runner.run(make_agent(agent_name, seed), task, seed, split)
                if on_episode is not None:
                    on_episode(task, result)
                return result

            started = time.perf_counter()
            results = list(pool.map(run_one, seeds))
            metrics.append(TaskMetrics.from_results(task, results, time.perf_counter() - started))
    return EvaluationReport(agent=agent_name, model=model_label(probe), split=split, where=runner.where,
                            seed_start=seed_start, workers=workers, tasks=metrics)
