"""A blind policy: random lines, random categories and severities, a random review length."""

from __future__ import annotations

import random
from typing import Optional

from app.agents.base import EpisodeContext, reviewed_code
from app.env import CodeIssue, CodeReviewerAction, CodeReviewerObservation, IssueType, Severity

ISSUE_TYPES = list(IssueType)
SEVERITIES = list(Severity)


class RandomAgent:
    """Reports random lines of the snippet without reading it, then submits.

    At ``begin`` it draws how many reports to make (0 to ``max_steps``; at ``max_steps`` the
    episode ends on the last report instead of a submit). The same seed plays the same actions.

    Args:
        seed: Seed of the agent's ``random.Random``; ``None`` draws from the OS.
    """

    name = "random"
    model = "random-v1"

    def __init__(self, seed: Optional[int] = None) -> None:
        self._rng = random.Random(seed)
        self._line_count = 1
        self._reports_left = 0

    def begin(self, observation: CodeReviewerObservation, context: EpisodeContext) -> None:
        """Draw the review's length for the new episode."""
        self._line_count = max(1, len(reviewed_code(observation)[0].splitlines()))
        self._reports_left = self._rng.randint(0, observation.max_steps)

    def act(self, observation: CodeReviewerObservation) -> CodeReviewerAction:
        """A random report, or ``submit_review`` once the drawn number of reports is made."""
        if self._reports_left <= 0:
            return CodeReviewerAction(action_type="submit_review")
        self._reports_left -= 1
        return CodeReviewerAction(
            action_type="identify_issue",
            issue=CodeIssue(line_number=self._rng.randint(1, self._line_count),
                            issue_type=self._rng.choice(ISSUE_TYPES),
                            severity=self._rng.choice(SEVERITIES),
                            description="random guess"),
            confidence=round(self._rng.random(), 3),
        )
