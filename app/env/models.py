"""Typed data of the code-review environment: actions, observations, rewards and results.

Everything here is a plain dataclass or Enum so the engine stays free of web, database and
validation libraries. Each type converts to and from JSON-ready dicts with ``to_dict`` /
``from_dict``; those dicts are the shapes the server puts on the wire.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

MAX_DESCRIPTION_LENGTH = 2000
MAX_FIX_LENGTH = 2000


class InvalidAction(ValueError):
    """An action that breaks the action contract. The environment is left unchanged."""


class EpisodeFinished(RuntimeError):
    """A step was attempted after the episode ended (submitted or out of steps)."""


class IssueType(str, Enum):
    """Category of a reported or planted issue."""

    SYNTAX_ERROR = "syntax_error"
    LOGIC_BUG = "logic_bug"
    SECURITY_VULNERABILITY = "security_vulnerability"


class Severity(str, Enum):
    """Impact of an issue. The reward for a match is the planted issue's severity value."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def value_points(self) -> float:
        """Reward points for finding an issue of this severity."""
        return SEVERITY_POINTS[self]


SEVERITY_POINTS: dict[Severity, float] = {
    Severity.LOW: 0.2,
    Severity.MEDIUM: 0.3,
    Severity.HIGH: 0.4,
    Severity.CRITICAL: 0.5,
}


class ActionType(str, Enum):
    """The three things an agent can do in a step."""

    IDENTIFY_ISSUE = "identify_issue"
    REQUEST_HINT = "request_hint"
    SUBMIT_REVIEW = "submit_review"


def _enum_value(enum_cls: type[Enum], raw: Any, field_name: str) -> Any:
    if isinstance(raw, enum_cls):
        return raw
    try:
        return enum_cls(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise InvalidAction(f"{field_name} must be one of: {allowed} (got {raw!r})") from None


@dataclass(frozen=True)
class CodeIssue:
    """An issue as reported by an agent.

    Attributes:
        line_number: 1-indexed line of the snippet the issue is on.
        issue_type: Category of the issue.
        severity: The reporter's estimate of the impact (not used for the reward).
        description: Free-text explanation, at most 2,000 characters.
        suggested_fix: Optional repair.
    """

    line_number: int
    issue_type: IssueType
    severity: Severity
    description: str = ""
    suggested_fix: Optional[str] = None

    def validate(self) -> None:
        """Check the issue against the action contract.

        Raises:
            InvalidAction: naming the offending field.
        """
        if isinstance(self.line_number, bool) or not isinstance(self.line_number, int):
            raise InvalidAction("issue.line_number must be an integer")
        if self.line_number < 1:
            raise InvalidAction("issue.line_number must be >= 1")
        if not isinstance(self.issue_type, IssueType):
            raise InvalidAction("issue.issue_type must be an IssueType")
        if not isinstance(self.severity, Severity):
            raise InvalidAction("issue.severity must be a Severity")
        if not isinstance(self.description, str):
            raise InvalidAction("issue.description must be a string")
        if len(self.description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidAction(
                f"issue.description must be at most {MAX_DESCRIPTION_LENGTH} characters"
            )
        if self.suggested_fix is not None:
            if not isinstance(self.suggested_fix, str):
                raise InvalidAction("issue.suggested_fix must be a string")
            if len(self.suggested_fix) > MAX_FIX_LENGTH:
                raise InvalidAction(
                    f"issue.suggested_fix must be at most {MAX_FIX_LENGTH} characters"
                )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "line_number": self.line_number,
            "issue_type": self.issue_type.value,
            "severity": self.severity.value,
            "description": self.description,
            "suggested_fix": self.suggested_fix,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CodeIssue":
        """Build an issue from its JSON form.

        Raises:
            InvalidAction: when a field is missing or has the wrong type or value.
        """
        if not isinstance(data, dict):
            raise InvalidAction("issue must be an object")
        for required in ("line_number", "issue_type", "severity"):
            if required not in data:
                raise InvalidAction(f"issue.{required} is required")
        issue = cls(
            line_number=data["line_number"],
            issue_type=_enum_value(IssueType, data["issue_type"], "issue.issue_type"),
            severity=_enum_value(Severity, data["severity"], "issue.severity"),
            description=data.get("description") or "",
            suggested_fix=data.get("suggested_fix"),
        )
        issue.validate()
        return issue


@dataclass(frozen=True)
class CodeReviewerAction:
    """One agent action.

    Attributes:
        action_type: ``identify_issue``, ``request_hint`` or ``submit_review``.
        issue: The reported issue; required for ``identify_issue`` and ignored otherwise.
        confidence: Optional self-reported probability in [0, 1] that the report is right.
    """

    action_type: ActionType | str
    issue: Optional[CodeIssue] = None
    confidence: Optional[float] = None

    def normalized(self) -> "CodeReviewerAction":
        """Return the action with its type as an ``ActionType``, checked against the contract.

        Raises:
            InvalidAction: wrong type, missing issue, line < 1, confidence out of range,
                description too long.
        """
        action_type = _enum_value(ActionType, self.action_type, "action_type")
        if self.confidence is not None:
            if isinstance(self.confidence, bool) or not isinstance(self.confidence, (int, float)):
                raise InvalidAction("confidence must be a number in [0, 1]")
            if not 0.0 <= float(self.confidence) <= 1.0:
                raise InvalidAction("confidence must be in [0, 1]")
        issue = self.issue
        if action_type is ActionType.IDENTIFY_ISSUE:
            if issue is None:
                raise InvalidAction("identify_issue requires an issue")
            if not isinstance(issue, CodeIssue):
                raise InvalidAction("issue must be a CodeIssue")
            issue.validate()
        else:
            issue = None
        if action_type is self.action_type and issue is self.issue:
            return self
        return CodeReviewerAction(action_type=action_type, issue=issue, confidence=self.confidence)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        action_type = self.action_type
        return {
            "action_type": action_type.value if isinstance(action_type, Enum) else action_type,
            "issue": self.issue.to_dict() if self.issue is not None else None,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CodeReviewerAction":
        """Build and check an action from its JSON form (unknown keys such as OpenEnv's
        ``metadata`` are ignored).

        Raises:
            InvalidAction: when the action breaks the contract.
        """
        if not isinstance(data, dict):
            raise InvalidAction("action must be an object")
        if "action_type" not in data:
            raise InvalidAction("action_type is required")
        raw_issue = data.get("issue")
        issue = CodeIssue.from_dict(raw_issue) if raw_issue is not None else None
        return cls(
            action_type=data["action_type"], issue=issue, confidence=data.get("confidence")
        ).normalized()


@dataclass(frozen=True)
class CodeSnippet:
    """The code under review."""

    code: str
    language: str = "python"
    file_name: str = "snippet.py"
    context: Optional[str] = None

    @functools.cached_property
    def digest(self) -> str:
        """Stable short digest of the code, tying snapshots to the code they were made on
        (computed once per snippet: every step's snapshot carries it)."""
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "code": self.code,
            "language": self.language,
            "file_name": self.file_name,
            "context": self.context,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CodeSnippet":
        """Build a snippet from its JSON form."""
        return cls(
            code=str(data["code"]),
            language=str(data.get("language") or "python"),
            file_name=str(data.get("file_name") or "snippet.py"),
            context=data.get("context"),
        )


@dataclass(frozen=True)
class PlantedIssue:
    """An issue of the answer key.

    Attributes:
        id: Identifier unique within the episode (stable across processes).
        line_number: The faulty line.
        accepted_lines: Lines on which a report counts (the faulty line, or the lines of a
            construct spanning several).
        issue_type: Category a report must name.
        severity: Its value is the reward for finding it.
        description: What is wrong.
        fix: The corrected text of ``line_number``.
        cwe: CWE id for vulnerabilities (``"CWE-89"``), ``None`` otherwise.
        kind: The bug kind (operator name or CWE family) used for analytics.
    """

    id: str
    line_number: int
    accepted_lines: tuple[int, ...]
    issue_type: IssueType
    severity: Severity
    description: str
    fix: str
    cwe: Optional[str] = None
    kind: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "id": self.id,
            "line_number": self.line_number,
            "accepted_lines": list(self.accepted_lines),
            "issue_type": self.issue_type.value,
            "severity": self.severity.value,
            "description": self.description,
            "fix": self.fix,
            "cwe": self.cwe,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PlantedIssue":
        """Build a planted issue from its JSON form."""
        return cls(
            id=str(data["id"]),
            line_number=int(data["line_number"]),
            accepted_lines=tuple(int(n) for n in data["accepted_lines"]),
            issue_type=IssueType(data["issue_type"]),
            severity=Severity(data["severity"]),
            description=str(data["description"]),
            fix=str(data["fix"]),
            cwe=data.get("cwe") or None,
            kind=data.get("kind") or None,
        )


@dataclass(frozen=True)
class Decoy:
    """A safe look-alike: code a careless reviewer flags. Reporting it is a false positive."""

    id: str
    line_number: int
    kind: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "id": self.id,
            "line_number": self.line_number,
            "kind": self.kind,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Decoy":
        """Build a decoy from its JSON form."""
        return cls(
            id=str(data["id"]),
            line_number=int(data["line_number"]),
            kind=str(data["kind"]),
            description=str(data["description"]),
        )


@dataclass(frozen=True)
class EpisodeSpec:
    """Everything that defines one episode before the agent acts: code and answer key."""

    task_name: str
    seed: Optional[int]
    split: str
    snippet: CodeSnippet
    issues: tuple[PlantedIssue, ...]
    decoys: tuple[Decoy, ...] = ()
    origin: Optional[str] = None  # base module a generated episode comes from
    # What the episode's random choices (hints included) are drawn from; see
    # ``app.env.corpus.generator.episode_stream``. Never shown to an agent.
    stream: Optional[str] = None
    title: Optional[str] = None  # the base module's title (its module.toml), for the task description
    # A pull-request episode: ``snippet`` is the code before, ``diff`` the unified diff of the
    # pull request and ``changed_code`` the code after it, whose lines the answer key numbers.
    diff: Optional[str] = None
    changed_code: Optional[str] = None

    @property
    def reviewed_code(self) -> str:
        """The code whose lines reports name: after the pull request, else the snippet."""
        return self.changed_code if self.changed_code is not None else self.snippet.code

    @property
    def random_stream(self) -> str:
        """:attr:`stream`, or ``task|split|seed`` for an episode that was not generated."""
        return self.stream or f"{self.task_name}|{self.split}|{self.seed}"

    @property
    def line_count(self) -> int:
        """Number of lines of the reviewed code."""
        return self.reviewed_code.count("\n") + 1


@dataclass(frozen=True)
class CodeReviewerReward:
    """Reward of one step.

    Attributes:
        step_reward: Reward earned by this step.
        cumulative_reward: Sum of step rewards since reset.
        breakdown: Named parts of ``step_reward`` (they sum to it).
    """

    step_reward: float
    cumulative_reward: float
    breakdown: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "step_reward": self.step_reward,
            "cumulative_reward": self.cumulative_reward,
            "breakdown": dict(self.breakdown),
        }


@dataclass(frozen=True)
class CodeReviewerObservation:
    """What the agent sees after ``reset`` and after every step."""

    code_snippet: CodeSnippet
    task_name: str
    task_description: str
    task_difficulty: str
    step_number: int
    max_steps: int
    previous_issues: list[CodeIssue]
    hint_available: bool
    hint_text: Optional[str]
    done: bool
    reward: Optional[float]
    feedback: str
    info: dict[str, Any]
    # The unified diff of a pull-request episode (``code_snippet`` is then the code before it,
    # and reported lines are those of the code after it); ``None`` for the other tasks.
    diff: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "code_snippet": self.code_snippet.to_dict(),
            "diff": self.diff,
            "task_name": self.task_name,
            "task_description": self.task_description,
            "task_difficulty": self.task_difficulty,
            "step_number": self.step_number,
            "max_steps": self.max_steps,
            "previous_issues": [issue.to_dict() for issue in self.previous_issues],
            "hint_available": self.hint_available,
            "hint_text": self.hint_text,
            "done": self.done,
            "reward": self.reward,
            "feedback": self.feedback,
            "info": dict(self.info),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CodeReviewerObservation":
        """Build an observation from its JSON form (what ``/reset`` and ``/step`` return).

        Raises:
            KeyError: a field is missing.
            InvalidAction: a previous issue breaks the action contract.
        """
        reward = data.get("reward")
        return cls(
            code_snippet=CodeSnippet.from_dict(data["code_snippet"]),
            task_name=str(data["task_name"]),
            task_description=str(data["task_description"]),
            task_difficulty=str(data["task_difficulty"]),
            step_number=int(data["step_number"]),
            max_steps=int(data["max_steps"]),
            previous_issues=[CodeIssue.from_dict(item) for item in data.get("previous_issues") or []],
            hint_available=bool(data["hint_available"]),
            hint_text=data.get("hint_text"),
            done=bool(data["done"]),
            reward=float(reward) if reward is not None else None,
            feedback=str(data.get("feedback") or ""),
            info=dict(data.get("info") or {}),
            diff=data.get("diff"),
        )


@dataclass(frozen=True)
class ReviewResult:
    """Score of an episode so far (final once ``done``)."""

    task_name: str
    completion_score: float
    success: bool
    precision: float
    recall: float
    f1: float
    found: int
    expected: int
    false_positives: int
    duplicates: int
    decoys_flagged: int
    hints_used: int
    steps_used: int
    total_reward: float
    done: bool
    matched_issues: list[PlantedIssue]
    missed_issues: list[PlantedIssue]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "task_name": self.task_name,
            "completion_score": self.completion_score,
            "success": self.success,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "found": self.found,
            "expected": self.expected,
            "false_positives": self.false_positives,
            "duplicates": self.duplicates,
            "decoys_flagged": self.decoys_flagged,
            "hints_used": self.hints_used,
            "steps_used": self.steps_used,
            "total_reward": self.total_reward,
            "done": self.done,
            "matched_issues": [issue.to_dict() for issue in self.matched_issues],
            "missed_issues": [issue.to_dict() for issue in self.missed_issues],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ReviewResult":
        """Build a result from its JSON form (what ``/result`` returns).

        Raises:
            KeyError: a field is missing.
        """
        return cls(
            task_name=str(data["task_name"]),
            completion_score=float(data["completion_score"]),
            success=bool(data["success"]),
            precision=float(data["precision"]),
            recall=float(data["recall"]),
            f1=float(data["f1"]),
            found=int(data["found"]),
            expected=int(data["expected"]),
            false_positives=int(data["false_positives"]),
            duplicates=int(data["duplicates"]),
            decoys_flagged=int(data["decoys_flagged"]),
            hints_used=int(data["hints_used"]),
            steps_used=int(data["steps_used"]),
            total_reward=float(data["total_reward"]),
            done=bool(data["done"]),
            matched_issues=[PlantedIssue.from_dict(item) for item in data.get("matched_issues") or []],
            missed_issues=[PlantedIssue.from_dict(item) for item in data.get("missed_issues") or []],
        )
