"""The agent interface: observation in, action out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

from app.env import CodeReviewerAction, CodeReviewerObservation, PlantedIssue
from app.env.diffs import apply_unified_diff


@dataclass(frozen=True)
class EpisodeContext:
    """What a harness tells an agent when an episode starts.

    Attributes:
        task_name: The task being played.
        seed: The episode's seed (``None`` for the canonical snippet).
        ground_truth: The answer key; given only to the in-process oracle, never over HTTP.
    """

    task_name: str
    seed: Optional[int] = None
    ground_truth: Optional[tuple[PlantedIssue, ...]] = None


@runtime_checkable
class Agent(Protocol):
    """A policy. ``begin`` is called after each reset, ``act`` once per step until done."""

    name: str

    def begin(self, observation: CodeReviewerObservation, context: EpisodeContext) -> None:
        """Prepare for a new episode whose first observation is ``observation``."""

    def act(self, observation: CodeReviewerObservation) -> CodeReviewerAction:
        """Choose the next action."""


def reviewed_code(observation: CodeReviewerObservation) -> tuple[str, Optional[frozenset[int]]]:
    """The code whose lines reports name, and for a pull request the lines it added or changed
    (``None`` for a file review): the code after the pull request, built from its diff."""
    if observation.diff is None:
        return observation.code_snippet.code, None
    applied = apply_unified_diff(observation.code_snippet.code, observation.diff)
    return applied.code, applied.added
