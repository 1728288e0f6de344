"""The oracle: reports the answer key, then submits. In-process only, to check the environment."""

from __future__ import annotations

from typing import Optional

from app.agents.base import EpisodeContext
from app.env import CodeIssue, CodeReviewerAction, CodeReviewerObservation, PlantedIssue

SUBMIT = CodeReviewerAction(action_type="submit_review")


class OracleAgent:
    """Reports every planted issue at its faulty line with its type and severity.

    It scores 1.0 on every task; anything less means the environment is broken. It needs the
    answer key, which a harness gives only in-process (``context.ground_truth``).
    """

    name = "oracle"
    model = "oracle-v1"
    requires_answer_key = True

    def __init__(self, seed: Optional[int] = None) -> None:
        self._pending: list[PlantedIssue] = []

    def begin(self, observation: CodeReviewerObservation, context: EpisodeContext) -> None:
        """Take the episode's answer key.

        Raises:
            ValueError: the context carries no answer key (the oracle never runs remotely).
        """
        if context.ground_truth is None:
            raise ValueError("the oracle needs the answer key (context.ground_truth): run it in-process")
        self._pending = list(context.ground_truth)

    def act(self, observation: CodeReviewerObservation) -> CodeReviewerAction:
        """The next planted issue, or ``submit_review`` once all are reported."""
        if not self._pending:
            return SUBMIT
        planted = self._pending.pop(0)
        return CodeReviewerAction(
            action_type="identify_issue",
            issue=CodeIssue(line_number=planted.line_number, issue_type=planted.issue_type,
                            severity=planted.severity, description=planted.description,
                            suggested_fix=planted.fix),
            confidence=1.0,
        )
