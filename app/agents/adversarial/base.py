"""What every adversarial policy shares: a list of reports decided at reset, played in order."""

from __future__ import annotations

from typing import Iterable, Optional

from app.agents.base import EpisodeContext, reviewed_code
from app.agents.static import task_categories
from app.env import CodeIssue, CodeReviewerAction, CodeReviewerObservation, IssueType, Severity

SUBMIT = CodeReviewerAction(action_type="submit_review")


def issue(line: int, kind: IssueType, description: str, severity: Severity = Severity.HIGH) -> CodeIssue:
    """A report of ``kind`` on ``line``."""
    return CodeIssue(line_number=line, issue_type=kind, severity=severity, description=description)


def one_per_line(findings: Iterable[CodeIssue]) -> list[CodeIssue]:
    """The first finding of each line, by line: a second report of a line and type is a duplicate."""
    first: dict[tuple[int, IssueType], CodeIssue] = {}
    for finding in findings:
        first.setdefault((finding.line_number, finding.issue_type), finding)
    return sorted(first.values(), key=lambda finding: finding.line_number)


class PlannedPolicy:
    """A policy that decides all its reports when the episode starts, then plays them in order.

    Subclasses implement :meth:`plan`. With ``submits`` the plan is cut to ``max_steps - 1``
    reports (its first ones: plans come sorted by line or by confidence) and the last step
    submits; without, the episode runs until ``max_steps`` is used up, as a blind policy does.

    Attributes:
        categories: The issue types the policy can report; a task planting none of them gives
            it nothing to do (its cell of the panel stays empty).
    """

    name = "planned"
    categories: frozenset[IssueType] = frozenset(IssueType)
    submits = True

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed
        self._pending: list[CodeIssue] = []

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """Every report the policy would make on this episode, most promising first."""
        raise NotImplementedError

    def begin(self, observation: CodeReviewerObservation, context: EpisodeContext) -> None:
        """Make the plan and cut it to the step budget."""
        budget = observation.max_steps - 1 if self.submits else observation.max_steps
        _, changed = reviewed_code(observation)
        # On a pull request only changed lines can hold what it introduces: a policy looks there.
        plan = [report for report in self.plan(observation, context) if changed is None or report.line_number in changed]
        self._pending = plan[: max(0, budget)]

    def act(self, observation: CodeReviewerObservation) -> CodeReviewerAction:
        """The next planned report, or ``submit_review`` once the plan is played."""
        if not self._pending:
            return SUBMIT
        return CodeReviewerAction(action_type="identify_issue", issue=self._pending.pop(0))


def reported_categories(observation: CodeReviewerObservation) -> tuple[IssueType, ...]:
    """The categories the task asks for, read from its description as the static reviewer does."""
    return task_categories(observation) or (IssueType.LOGIC_BUG,)
