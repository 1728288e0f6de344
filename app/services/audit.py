"""The reward-hacking panel: adversarial policies played through the engine, against thresholds.

A score that can be earned without reviewing is worthless. The panel plays N episodes of each
policy on each task it can report on, in-process through :class:`~app.env.CodeReviewerEnv`
(nothing is stored), and says which cells cross the thresholds. Episodes use seeds
``seed_start`` ... and each gets a fresh policy seeded with its seed, so a run is reproducible.

Which cells are thresholded (mean ``completion_score`` at most ``max_mean`` and success rate at
most ``max_success``):

- every adversarial and blind policy on every task that asks for logic bugs or vulnerabilities;
- on syntax tasks only the blind policies (``submit_at_once``, ``random``, ``line_sweep``) and
  ``regenerate_from_seed``: the compiler finds syntax errors, so a syntax task is expected to
  fall to tools, but not to a guess or to the generator;
- never the cells expected high: ``compile_locator`` on syntax tasks, ``diff_clean_module``
  everywhere (the memorisation ceiling: every split's clean modules are shipped),
  ``regenerate_from_seed`` on public splits (their episodes are meant to be reproducible from
  the seed), and the references (``oracle``, which must score 1.0, and the ``static`` reviewer).

Episodes of an evaluation split (``test``) are played under an episode secret, as a deployment
serves them: a random one unless the caller gives one (to reproduce a run exactly).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from app.agents.adversarial import POLICIES, RegenerateFromSeed
from app.agents.base import Agent, EpisodeContext
from app.agents.registry import make_agent, requires_answer_key
from app.env import EVALUATION_SPLITS, CodeReviewerEnv, IssueType, ReviewResult, TaskRegistry, TaskSpec, load_registry
from app.services.evaluation import TaskMetrics, play

# Roles of the panel's policies.
BLIND = "blind"  # chooses lines without reading them: thresholded on every task
ADVERSARIAL = "adversarial"  # reads the code, not the answer: thresholded off syntax tasks
CEILING = "ceiling"  # memorisation: expected high, reported, never thresholded
REFERENCE = "reference"  # oracle and static reviewer: shown for scale
ROLES = (BLIND, ADVERSARIAL, CEILING, REFERENCE)

# Thresholds of the panel: a policy that does not review may not reach these.
MAX_MEAN = 0.30
MAX_SUCCESS = 0.05

PolicyFactory = Callable[[int, str], Agent]


@dataclass(frozen=True)
class Thresholds:
    """Highest mean ``completion_score`` and success rate a thresholded cell may show."""

    max_mean: float = MAX_MEAN
    max_success: float = MAX_SUCCESS

    def crossed_by(self, metrics: TaskMetrics) -> bool:
        """Whether ``metrics`` exceed either threshold."""
        return metrics.mean_completion_score > self.max_mean or metrics.success_rate > self.max_success


@dataclass(frozen=True)
class PanelPolicy:
    """A policy of the panel.

    Attributes:
        name: Row name.
        make: Builds the policy for one episode from ``(seed, split)``.
        role: ``blind``, ``adversarial``, ``ceiling`` or ``reference``.
        categories: Issue types it reports; a task planting none of them is not played.
        expected_high: Issue types of the tasks on which it is expected to score high (all of
            the task's types must be among them); those cells are never thresholded.
        high_on_public_splits: Expected high on every task of a split played without an
            episode secret.
        syntax_thresholded: Held to the thresholds on syntax tasks too.
        note: What the row measures, for people reading the table.
    """

    name: str
    make: PolicyFactory
    role: str
    categories: frozenset[IssueType] = frozenset(IssueType)
    expected_high: frozenset[IssueType] = frozenset()
    high_on_public_splits: bool = False
    syntax_thresholded: bool = False
    note: str = ""

    def plays(self, task: TaskSpec) -> bool:
        """Whether the policy can report anything the task plants."""
        return bool(self.categories & set(task.issue_types))

    def expected_high_on(self, task: TaskSpec, split: str) -> bool:
        """Whether the policy is expected to score high on ``task`` of ``split``."""
        if self.high_on_public_splits and split not in EVALUATION_SPLITS:
            return True
        return bool(task.issue_types) and set(task.issue_types) <= self.expected_high

    def thresholded_on(self, task: TaskSpec, split: str) -> bool:
        """Whether the cell of this policy on ``task`` of ``split`` is held to the thresholds."""
        if self.role in (CEILING, REFERENCE) or self.expected_high_on(task, split):
            return False
        if is_syntax_task(task):
            return self.syntax_thresholded
        return True


def is_syntax_task(task: TaskSpec) -> bool:
    """A task planting syntax errors only."""
    return set(task.issue_types) == {IssueType.SYNTAX_ERROR}


def _adversarial(name: str, seed: int, **options: Any) -> Agent:
    return POLICIES[name](seed, **options)


def default_panel(registry: Optional[TaskRegistry] = None, corpus_dir: Optional[Path] = None) -> list[PanelPolicy]:
    """The panel's policies, in the table's order.

    Args:
        registry: The project's registry without an episode secret, which
            ``regenerate_from_seed`` regenerates episodes with; default the shipped tasks.
        corpus_dir: Folder of the clean modules ``diff_clean_module`` compares with; default
            ``tasks/corpus``.
    """
    everything = frozenset(IssueType)
    public = registry if registry is not None else load_registry()

    def policy(name: str, role: str, note: str, expected_high: frozenset[IssueType] = frozenset(),
               **options: Any) -> PanelPolicy:
        return PanelPolicy(name=name, make=lambda seed, split: _adversarial(name, seed, **options),
                           role=role, categories=POLICIES[name].categories, expected_high=expected_high,
                           syntax_thresholded=role == BLIND, note=note)

    return [
        policy("submit_at_once", BLIND, "submits without a report"),
        policy("random", BLIND, "distinct random lines, the task's category, until max_steps"),
        policy("line_sweep", BLIND, "lines 1, 2, 3, ..., the task's category, until max_steps"),
        policy("flag_every_line_of_category", ADVERSARIAL,
               "every code line in order (categories alternate on full_review), until max_steps"),
        policy("regex", ADVERSARIAL, "lines matching dangerous-API regular expressions"),
        policy("security_api_sinks", ADVERSARIAL, "every line calling a security-relevant API"),
        policy("bandit", ADVERSARIAL, "every line Bandit flags, unfiltered"),
        policy("compile_locator", ADVERSARIAL, "lines compile() blames, one after another",
               expected_high=frozenset({IssueType.SYNTAX_ERROR})),
        PanelPolicy(name="regenerate_from_seed",
                    make=lambda seed, split: RegenerateFromSeed(seed, split=split, registry=public),
                    role=ADVERSARIAL, high_on_public_splits=True, syntax_thresholded=True,
                    note="the answer key of the episode regenerated from its seed, without the secret"),
        policy("diff_clean_module", CEILING, "lines differing from the shipped clean module (memorisation)",
               expected_high=everything, corpus_dir=corpus_dir),
        PanelPolicy(name="oracle", make=lambda seed, split: make_agent("oracle", seed), role=REFERENCE,
                    expected_high=everything, note="reads the answer key: must be 1.0"),
        PanelPolicy(name="static", make=lambda seed, split: make_agent("static", seed), role=REFERENCE,
                    note="the offline static reviewer"),
    ]


def choose_policies(panel: Sequence[PanelPolicy], names: Sequence[str]) -> list[PanelPolicy]:
    """The policies of ``panel`` called ``names``, in the panel's order; all of them without names.

    Raises:
        ValueError: a name the panel does not hold; the message lists the valid ones.
    """
    unknown = sorted(set(names) - {policy.name for policy in panel})
    if unknown:
        raise ValueError(f"unknown policy {', '.join(unknown)}; valid policies: "
                         f"{', '.join(policy.name for policy in panel)}")
    return [policy for policy in panel if not names or policy.name in names]


class EngineRunner:
    """Episodes played on the engine directly: no database, no server, nothing stored.

    Args:
        registry: The task registry episodes come from.
    """

    where = "engine"

    def __init__(self, registry: TaskRegistry) -> None:
        self.registry = registry

    def run(self, agent: Agent, task: str, seed: int, split: str) -> ReviewResult:
        """Reset, let the agent act until done, return the result.

        The answer key goes to agents that read it (the oracle) and to no other.
        """
        env = CodeReviewerEnv(task_name=task, registry=self.registry)
        observation = env.reset(seed=seed, split=split)
        answer_key = tuple(env.ground_truth()) if requires_answer_key(agent) else None
        agent.begin(observation, EpisodeContext(task_name=task, seed=seed, ground_truth=answer_key))
        play(agent, observation, lambda action: env.step(action)[0])
        return env.get_review_result()


@dataclass(frozen=True)
class AuditCell:
    """One policy on one task.

    Attributes:
        policy: Policy name.
        task: Task name.
        metrics: The episodes' metrics (mean score, success rate, precision, ...).
        thresholded: Whether the cell is held to the thresholds.
        expected_high: Whether the policy is expected to score high here.
        crossed: Whether the cell is thresholded and exceeds a threshold.
    """

    policy: str
    task: str
    metrics: TaskMetrics
    thresholded: bool
    expected_high: bool
    crossed: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"policy": self.policy, "task": self.task, "thresholded": self.thresholded,
                "expected_high": self.expected_high, "crossed": self.crossed, **self.metrics.to_dict()}


@dataclass(frozen=True)
class AuditReport:
    """The panel's cells, with what a reader needs to reproduce them."""

    split: str
    episodes: int
    seed_start: int
    thresholds: Thresholds
    tasks: list[str]
    policies: list[dict[str, str]]
    episode_secret: str = "none"  # "none" (a public split), "random" or "given"
    cells: list[AuditCell] = field(default_factory=list)
    seconds: float = 0.0

    def cell(self, policy: str, task: str) -> Optional[AuditCell]:
        """The cell of ``policy`` on ``task``; ``None`` when the policy does not play the task."""
        return next((c for c in self.cells if c.policy == policy and c.task == task), None)

    def crossed(self) -> list[AuditCell]:
        """Thresholded cells that exceed a threshold."""
        return [c for c in self.cells if c.crossed]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"split": self.split, "episodes": self.episodes, "seed_start": self.seed_start,
                "episode_secret": self.episode_secret, "thresholds": asdict(self.thresholds), "tasks": self.tasks, "policies": self.policies,
                "cells": [c.to_dict() for c in self.cells], "crossed": len(self.crossed()),
                "seconds": self.seconds}


def audit_reward(
    registry: TaskRegistry,
    *,
    tasks: Optional[Sequence[str]] = None,
    split: str = "test",
    episodes: int = 40,
    seed_start: int = 0,
    policies: Optional[Sequence[PanelPolicy]] = None,
    thresholds: Thresholds = Thresholds(),
    episode_secret: Optional[bytes] = None,
    on_episode: Optional[Callable[[str, str], None]] = None,
) -> AuditReport:
    """Play the panel: ``episodes`` episodes of every policy on every task it can report on.

    Args:
        registry: Where tasks and episodes come from, without an episode secret (on an
            evaluation split the panel's own secret is used instead).
        tasks: Task names (default: every registered task).
        split: ``train``, ``validation`` or ``test``.
        episodes: Episodes per cell (at least 1); episode ``i`` uses seed ``seed_start + i``.
        seed_start: Seed of the first episode.
        policies: The panel (default :func:`default_panel`).
        thresholds: What a thresholded cell may show at most.
        episode_secret: The secret an evaluation split is played under; default a random one
            (ignored on public splits, which use none).
        on_episode: Called with the policy and task names after every episode.

    Raises:
        ValueError: unknown task or split, or fewer than one episode.
    """
    if episodes < 1:
        raise ValueError("episodes must be at least 1")
    specs = [registry.get(name) for name in (tasks or registry.names())]
    panel = list(policies) if policies is not None else default_panel(registry)
    secret_used = "none"
    if split in EVALUATION_SPLITS:
        # Played as a deployment serves them: under a secret no policy knows.
        secret_used = "random" if episode_secret is None else "given"
        registry = registry.with_episode_secret(episode_secret if episode_secret is not None
                                                else secrets.token_bytes(32))
    runner = EngineRunner(registry)
    seeds = range(seed_start, seed_start + episodes)
    started = time.perf_counter()
    cells = []
    for policy in panel:
        for task in specs:
            if not policy.plays(task):
                continue
            cell_started = time.perf_counter()
            results = []
            for seed in seeds:
                results.append(runner.run(policy.make(seed, split), task.name, seed, split))
                if on_episode is not None:
                    on_episode(policy.name, task.name)
            metrics = TaskMetrics.from_results(task.name, results, time.perf_counter() - cell_started)
            thresholded = policy.thresholded_on(task, split)
            cells.append(AuditCell(policy=policy.name, task=task.name, metrics=metrics, thresholded=thresholded,
                                   expected_high=policy.expected_high_on(task, split),
                                   crossed=thresholded and thresholds.crossed_by(metrics)))
    return AuditReport(split=split, episodes=episodes, seed_start=seed_start, thresholds=thresholds,
                       tasks=[task.name for task in specs],
                       policies=[{"name": p.name, "role": p.role, "note": p.note} for p in panel],
                       episode_secret=secret_used, cells=cells, seconds=round(time.perf_counter() - started, 2))
