"""The static reviewer: a real offline review with well-kept tools, never the answer key.

It runs the check of each category the task asks for on the snippet (``compile`` /
``tokenize`` for syntax errors, Bandit plus taint checks for vulnerabilities, AST heuristics for
logic bugs), reports each finding once, requests no hints and submits when it has nothing left
to say.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

from app.agents.base import EpisodeContext, reviewed_code
from app.agents.checks import find_logic_bugs, find_syntax_errors, find_vulnerabilities
from app.env import CodeIssue, CodeReviewerAction, CodeReviewerObservation, IssueType, load_registry

CHECKS: dict[IssueType, Callable[[str], list[CodeIssue]]] = {
    IssueType.SYNTAX_ERROR: find_syntax_errors,
    IssueType.SECURITY_VULNERABILITY: find_vulnerabilities,
    IssueType.LOGIC_BUG: find_logic_bugs,
}
# Words of a task description that name each category the task asks for.
CATEGORY_WORDS = {
    IssueType.SYNTAX_ERROR: ("syntax",),
    IssueType.LOGIC_BUG: ("logic",),
    IssueType.SECURITY_VULNERABILITY: ("security", "vulnerab"),
}


def task_categories(observation: CodeReviewerObservation) -> tuple[IssueType, ...]:
    """The issue types a task asks for, read from its description as a reviewer would; the
    registry's category of the task when the description names none."""
    description = observation.task_description.lower()
    named = tuple(kind for kind, words in CATEGORY_WORDS.items() if any(word in description for word in words))
    if named:
        return named
    try:
        return (load_registry().get(observation.task_name).issue_type,)
    except ValueError:
        return ()


@functools.lru_cache(maxsize=64)
def review(code: str, categories: tuple[IssueType, ...]) -> tuple[CodeIssue, ...]:
    """The findings of each category's check on ``code``, by line (cached: checks are pure)."""
    findings = [issue for category in categories for issue in CHECKS[category](code)]
    return tuple(sorted(findings, key=lambda issue: issue.line_number))


class StaticAgent:
    """Reports what the offline checks find for the task's categories, then submits.

    Deterministic: the seed is accepted for the common factory signature and ignored.
    """

    name = "static"
    model = "static-v1"

    def __init__(self, seed: Optional[int] = None) -> None:
        self._pending: list[CodeIssue] = []

    def begin(self, observation: CodeReviewerObservation, context: EpisodeContext) -> None:
        """Review the snippet; keep one step for the submit."""
        code, changed = reviewed_code(observation)
        findings = [finding for finding in review(code, task_categories(observation))
                    if changed is None or finding.line_number in changed]
        self._pending = list(findings[: max(0, observation.max_steps - 1)])

    def act(self, observation: CodeReviewerObservation) -> CodeReviewerAction:
        """The next finding, or ``submit_review`` when none is left."""
        if not self._pending:
            return CodeReviewerAction(action_type="submit_review")
        return CodeReviewerAction(action_type="identify_issue", issue=self._pending.pop(0))
