"""Shared fixtures and helpers."""

from __future__ import annotations

import pytest

from app.env import CodeIssue, CodeReviewerAction, CodeReviewerEnv, IssueType, Severity, load_registry

TASK_NAMES = load_registry().names()


def report(line: int, issue_type: IssueType | str, severity: Severity | str = "high",
           confidence: float | None = None) -> CodeReviewerAction:
    """An ``identify_issue`` action."""
    return CodeReviewerAction(
        action_type="identify_issue",
        issue=CodeIssue(line_number=line, issue_type=IssueType(issue_type),
                        severity=Severity(severity), description="reported in a test"),
        confidence=confidence,
    )


HINT = CodeReviewerAction(action_type="request_hint")
SUBMIT = CodeReviewerAction(action_type="submit_review")


@pytest.fixture(params=TASK_NAMES)
def task_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def env(task_name: str) -> CodeReviewerEnv:
    environment = CodeReviewerEnv(task_name=task_name)
    environment.reset()
    return environment
