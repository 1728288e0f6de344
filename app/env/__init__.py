"""The code-review environment engine: pure Python, no web or database library.

Public API::

    from app.env import CodeReviewerEnv, CodeReviewerAction, CodeIssue, IssueType, Severity
"""

from app.env.environment import CodeReviewerEnv
from app.env.models import (
    ActionType,
    CodeIssue,
    CodeReviewerAction,
    CodeReviewerObservation,
    CodeReviewerReward,
    CodeSnippet,
    Decoy,
    EpisodeFinished,
    EpisodeSpec,
    InvalidAction,
    IssueType,
    PlantedIssue,
    ReviewResult,
    Severity,
)
from app.env.corpus.generator import EVALUATION_SPLITS
from app.env.tasks import SPLITS, HoldoutUnavailable, TaskDefinitionError, TaskRegistry, TaskSpec, load_registry

__all__ = [
    "ActionType",
    "CodeIssue",
    "CodeReviewerAction",
    "CodeReviewerEnv",
    "CodeReviewerObservation",
    "CodeReviewerReward",
    "CodeSnippet",
    "Decoy",
    "EVALUATION_SPLITS",
    "EpisodeFinished",
    "EpisodeSpec",
    "HoldoutUnavailable",
    "InvalidAction",
    "IssueType",
    "PlantedIssue",
    "ReviewResult",
    "SPLITS",
    "Severity",
    "TaskDefinitionError",
    "TaskRegistry",
    "TaskSpec",
    "load_registry",
]
