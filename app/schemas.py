"""marshmallow schemas: the wire contract.

Request schemas validate what clients send (422 with field messages otherwise); response
schemas document what the server answers. ``/openapi.json`` and ``/schema`` are generated from
these same classes.
"""

from __future__ import annotations

import math
from datetime import timezone
from typing import Any, Optional

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from app.env import ActionType, IssueType, Severity
from app.env.models import MAX_DESCRIPTION_LENGTH, MAX_FIX_LENGTH
from app.env.tasks import SPLITS
from app.models import EpisodeStatus

ID_LENGTH = validate.Length(min=1, max=128)
LABEL_LENGTH = validate.Length(min=1, max=255)
SEED_RANGE = validate.Range(min=0, max=2**63 - 1)
# Free-form objects (an action's ``metadata``) may nest this deep, no deeper.
MAX_NESTING = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def unstorable(value: Any) -> Optional[str]:
    """Why ``value`` cannot be stored and sent back as JSON, or None when it can.

    Python's JSON parser accepts what databases and JSON writers refuse: NUL characters
    (Postgres text rejects them), lone surrogates (not encodable as UTF-8), NaN and
    Infinity (not JSON), integers beyond 64 bits (the JSON writer refuses them), and unbounded
    nesting.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "must not contain NUL characters"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "must be valid Unicode text (no lone surrogates)"
        elif isinstance(item, float) and not math.isfinite(item):
            return "must be a finite number"
        elif isinstance(item, int) and not INT64_MIN <= item <= INT64_MAX:
            return "must be an integer that fits in 64 bits"
        elif isinstance(item, (dict, list)):
            if depth >= MAX_NESTING:
                return f"must not nest more than {MAX_NESTING} levels"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


class StrictSchema(Schema):
    """Unknown keys are errors: a typo must not be silently ignored. Text that could not be
    stored or echoed (see :func:`unstorable`) is a validation error of its field."""

    class Meta:
        unknown = RAISE

    @pre_load
    def reject_unstorable(self, data: Any, **_kwargs: Any) -> Any:
        """422 for NUL, lone surrogates, NaN / Infinity and deep nesting, naming the field."""
        if not isinstance(data, dict):
            return data
        problems = {}
        for key, value in data.items():
            # A nested schema checks its own object, so the error names the inner field.
            if isinstance(value, dict) and isinstance(self.fields.get(key), fields.Nested):
                continue
            problem = unstorable(key) or unstorable(value)
            if problem is not None:
                problems[key if unstorable(key) is None else "_schema"] = [problem]
        if problems:
            raise ValidationError(problems)
        return data


class IssueSchema(StrictSchema):
    """An issue reported by the agent."""

    line_number = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    issue_type = fields.String(required=True, validate=validate.OneOf([t.value for t in IssueType]))
    severity = fields.String(required=True, validate=validate.OneOf([s.value for s in Severity]))
    description = fields.String(load_default="", validate=validate.Length(max=MAX_DESCRIPTION_LENGTH))
    suggested_fix = fields.String(allow_none=True, load_default=None,
                                  validate=validate.Length(max=MAX_FIX_LENGTH))


class ActionSchema(StrictSchema):
    """One action. ``metadata`` is accepted (OpenEnv actions always carry it) and ignored."""

    action_type = fields.String(required=True, validate=validate.OneOf([a.value for a in ActionType]))
    issue = fields.Nested(IssueSchema, allow_none=True, load_default=None)
    confidence = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0, max=1),
                              allow_nan=False)
    metadata = fields.Dict(load_default=dict)

    @validates_schema
    def issue_required(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """``identify_issue`` needs an issue."""
        if data.get("action_type") == ActionType.IDENTIFY_ISSUE.value and not data.get("issue"):
            raise ValidationError("identify_issue requires an issue", field_name="issue")


class ResetRequestSchema(StrictSchema):
    """Body of ``POST /reset`` (and of the WebSocket reset frames)."""

    task = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    session_id = fields.String(load_default=None, allow_none=True, validate=ID_LENGTH)
    seed = fields.Integer(load_default=None, allow_none=True, strict=True, validate=SEED_RANGE)
    episode_id = fields.String(load_default=None, allow_none=True, validate=ID_LENGTH)
    split = fields.String(load_default="train", validate=validate.OneOf(SPLITS))
    agent = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=128))
    model = fields.String(load_default=None, allow_none=True, validate=LABEL_LENGTH)


# The largest step index a step may expect (steps.index is a 32-bit integer).
MAX_STEP_INDEX = 2**31 - 1


class StepOptionsSchema(StrictSchema):
    """What makes a step safe to retry (see ``app.services.stepping.step_session``): the index
    it expects to get, and the client's id for it (also OpenEnv's optional key)."""

    expected_step = fields.Integer(load_default=None, allow_none=True, strict=True,
                                   validate=validate.Range(min=1, max=MAX_STEP_INDEX))
    request_id = fields.String(load_default=None, allow_none=True, validate=LABEL_LENGTH)


class StepRequestSchema(StepOptionsSchema):
    """Body of ``POST /step``. ``timeout_s`` is OpenEnv's optional key (ignored)."""

    session_id = fields.String(required=True, validate=ID_LENGTH)
    action = fields.Nested(ActionSchema, required=True)
    timeout_s = fields.Float(load_default=None, allow_none=True)


# ---------------------------------------------------------------------- the step's shortcut
#
# Every step is validated, and marshmallow costs more per action than the rest of a step's
# Python work outside the engine. These checks accept, without running the schema, only input
# that the schema accepts as it is; anything else (an error, a bool where a number goes, an
# unusual but valid value) goes through the schema, which stays the contract and writes every
# error message. They are a shortcut, not a second contract: tests/test_schema_shortcut.py
# checks that whatever they accept, the schema accepts too.

_ACTION_KEYS = frozenset(ActionSchema().fields)
_ISSUE_KEYS = frozenset(IssueSchema().fields)
_STEP_KEYS = frozenset(StepRequestSchema().fields)
_ACTION_TYPES = frozenset(a.value for a in ActionType)
_ISSUE_TYPES = frozenset(t.value for t in IssueType)
_SEVERITIES = frozenset(s.value for s in Severity)


def _text(value: Any, longest: int, shortest: int = 0) -> bool:
    """A storable string (see :func:`unstorable`) of ``shortest``..``longest`` characters."""
    return (type(value) is str and shortest <= len(value) <= longest and "\x00" not in value
            and (value.isascii() or unstorable(value) is None))


def _one_of(value: Any, choices: frozenset[str]) -> bool:
    return type(value) is str and value in choices


def _plainly_valid_issue(issue: Any) -> bool:
    if type(issue) is not dict or not issue.keys() <= _ISSUE_KEYS:
        return False
    line = issue.get("line_number")
    fix = issue.get("suggested_fix")
    return (type(line) is int and 1 <= line <= INT64_MAX
            and _one_of(issue.get("issue_type"), _ISSUE_TYPES) and _one_of(issue.get("severity"), _SEVERITIES)
            and ("description" not in issue or _text(issue["description"], MAX_DESCRIPTION_LENGTH))
            and (fix is None or _text(fix, MAX_FIX_LENGTH)))


def plainly_valid_action(action: Any) -> bool:
    """True only when :class:`ActionSchema` accepts ``action`` as it is (False: ask it)."""
    if type(action) is not dict or not action.keys() <= _ACTION_KEYS:
        return False
    kind = action.get("action_type")
    if not _one_of(kind, _ACTION_TYPES):
        return False
    issue = action.get("issue")
    if issue is None:
        if kind == ActionType.IDENTIFY_ISSUE.value:
            return False
    elif not _plainly_valid_issue(issue):
        return False
    confidence = action.get("confidence")
    if confidence is not None and not (type(confidence) in (int, float) and 0 <= confidence <= 1):
        return False
    return "metadata" not in action or (type(action["metadata"]) is dict
                                        and unstorable(action["metadata"]) is None)


def plainly_valid_step_request(body: Any) -> bool:
    """True only when :class:`StepRequestSchema` accepts ``body`` as it is (False: ask it)."""
    if type(body) is not dict or not body.keys() <= _STEP_KEYS:
        return False
    timeout = body.get("timeout_s")
    return (_text(body.get("session_id"), ID_LENGTH.max, ID_LENGTH.min)
            and (timeout is None or (type(timeout) in (int, float) and math.isfinite(timeout)))
            and plainly_valid_step_options(body)
            and plainly_valid_action(body.get("action")))


def plainly_valid_step_options(body: dict[str, Any]) -> bool:
    """True only when ``body``'s ``expected_step`` and ``request_id`` (absent, null or plain)
    are as :class:`StepOptionsSchema` accepts them."""
    expected = body.get("expected_step")
    request_id = body.get("request_id")
    return ((expected is None or (type(expected) is int and 1 <= expected <= MAX_STEP_INDEX))
            and (request_id is None or _text(request_id, LABEL_LENGTH.max, LABEL_LENGTH.min)))


class SessionArgsSchema(StrictSchema):
    """Arguments of the MCP tools that act on a session."""

    session_id = fields.String(required=True, validate=ID_LENGTH)


class StepToolArgsSchema(SessionArgsSchema, StepOptionsSchema):
    """Arguments of the MCP tools that step a session's episode (``request_hint``, ``submit_review``)."""


class IdentifyIssueArgsSchema(IssueSchema, StepOptionsSchema):
    """Arguments of the MCP ``identify_issue`` tool: the issue, its confidence, the session, and
    what makes the step safe to resend (``expected_step``, ``request_id``)."""

    session_id = fields.String(required=True, validate=ID_LENGTH)
    confidence = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0, max=1),
                              allow_nan=False)


class EpisodePathSchema(StrictSchema):
    """The ``<episode_id>`` of the ``/api/episodes/<episode_id>`` URLs."""

    episode_id = fields.String(required=True, validate=ID_LENGTH)


class SessionQuerySchema(StrictSchema):
    """Query string of ``GET /state``."""

    session_id = fields.String(required=True, validate=ID_LENGTH)


class FilterQuerySchema(StrictSchema):
    """Filters shared by the listing, analytics and export endpoints."""

    task = fields.String(validate=validate.Length(min=1, max=64))
    split = fields.String(validate=validate.OneOf(SPLITS))
    agent = fields.String(validate=validate.Length(min=1, max=128))
    model = fields.String(validate=LABEL_LENGTH)
    since = fields.AwareDateTime(default_timezone=timezone.utc)
    until = fields.AwareDateTime(default_timezone=timezone.utc)


class EpisodeListQuerySchema(FilterQuerySchema):
    """Query string of ``GET /api/episodes``."""

    status = fields.String(validate=validate.OneOf(EpisodeStatus.ALL))
    success = fields.Boolean()
    sort = fields.String(load_default="created_at", validate=validate.OneOf(
        ["created_at", "finished_at", "completion_score", "step_count", "cumulative_reward"]))
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10**6))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class AnalyticsQuerySchema(FilterQuerySchema):
    """Query string of ``GET /api/analytics/<name>``."""

    bucket = fields.String(load_default="day", validate=validate.OneOf(["hour", "day"]))


class ExportQuerySchema(FilterQuerySchema):
    """Query string of ``GET /api/export`` (JSON Lines; Parquet is written by the CLI)."""

    format = fields.String(load_default="jsonl", validate=validate.OneOf(["jsonl"]))
    status = fields.String(load_default=EpisodeStatus.FINISHED, validate=validate.OneOf(EpisodeStatus.ALL))


# ---------------------------------------------------------------------- responses


class CodeSnippetSchema(Schema):
    code = fields.String(required=True)
    language = fields.String(required=True)
    file_name = fields.String(required=True)
    context = fields.String(allow_none=True)


class ObservationInfoSchema(Schema):
    episode_id = fields.String(required=True)
    expected_issue_count = fields.Integer(
        required=True, allow_none=True,
        metadata={"description": "planted issues of the episode; null on pr_review, where it is not shown"})
    issues_found = fields.Integer(required=True)
    false_positives = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    hints_remaining = fields.Integer(required=True)
    steps_remaining = fields.Integer(required=True)
    last_outcome = fields.String(allow_none=True, required=True)


class ObservationSchema(Schema):
    """What the agent sees."""

    code_snippet = fields.Nested(CodeSnippetSchema, required=True)
    diff = fields.String(
        allow_none=True, load_default=None,
        metadata={"description": "pr_review: the pull request as a unified diff of code_snippet.code "
                                 "(the code before it); reported line numbers are those of the code after "
                                 "it, the + side. null on the other tasks."})
    task_name = fields.String(required=True)
    task_description = fields.String(required=True)
    task_difficulty = fields.String(required=True, validate=validate.OneOf(["easy", "medium", "hard"]))
    step_number = fields.Integer(required=True)
    max_steps = fields.Integer(required=True)
    previous_issues = fields.List(fields.Nested(IssueSchema), required=True)
    hint_available = fields.Boolean(required=True)
    hint_text = fields.String(allow_none=True, required=True)
    done = fields.Boolean(required=True)
    reward = fields.Float(allow_none=True, required=True)
    feedback = fields.String(required=True)
    info = fields.Nested(ObservationInfoSchema, required=True)


class StepResponseSchema(Schema):
    """Reply of ``/reset`` and ``/step``."""

    observation = fields.Nested(ObservationSchema, required=True)
    reward = fields.Float(allow_none=True, required=True)
    done = fields.Boolean(required=True)
    session_id = fields.String(required=True)
    episode_id = fields.String(required=True)
    metadata = fields.Dict(metadata={"description": "reward breakdown, cumulative reward, episode labels"})


class StateSchema(Schema):
    """OpenEnv state: ``episode_id`` and ``step_count`` plus the episode's identity."""

    episode_id = fields.String(allow_none=True, required=True)
    step_count = fields.Integer(required=True)
    session_id = fields.String()
    task = fields.String()
    seed = fields.Integer(allow_none=True)
    split = fields.String()
    status = fields.String(validate=validate.OneOf(EpisodeStatus.ALL))
    done = fields.Boolean()
    cumulative_reward = fields.Float()
    observation = fields.Nested(ObservationSchema)


class TaskSchema(Schema):
    name = fields.String(required=True)
    title = fields.String(required=True)
    difficulty = fields.String(required=True)
    issue_type = fields.String(required=True)
    description = fields.String(required=True)
    expected_issue_count = fields.Integer(required=True, allow_none=True,
                                          metadata={"description": "null where it varies per episode (pr_review)"})
    max_steps = fields.Integer(required=True)
    success_threshold = fields.Float(required=True)
    max_hints = fields.Integer(required=True)
    issue_types = fields.List(fields.String(), required=True)
    splits = fields.List(fields.String(), required=True)
    split_sizes = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                              metadata={"description": "base modules able to carry the task, per split"})


class TaskListSchema(Schema):
    tasks = fields.List(fields.Nested(TaskSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["healthy", "unhealthy"]))
    database = fields.String(required=True)
    version = fields.String(required=True)
    tasks = fields.Integer(required=True)


class MetadataSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    version = fields.String(required=True)
    author = fields.String(allow_none=True)
    documentation_url = fields.String(allow_none=True)
    readme_content = fields.String(allow_none=True)
    tasks = fields.List(fields.String())


class PlantedIssueSchema(Schema):
    id = fields.String(required=True)
    line_number = fields.Integer(required=True)
    accepted_lines = fields.List(fields.Integer(), required=True)
    issue_type = fields.String(required=True)
    severity = fields.String(required=True)
    description = fields.String(required=True)
    fix = fields.String(required=True)
    cwe = fields.String(allow_none=True)
    kind = fields.String(allow_none=True)


class DecoySchema(Schema):
    id = fields.String(required=True)
    line_number = fields.Integer(required=True)
    kind = fields.String(required=True)
    description = fields.String(required=True)


class RecordedStepSchema(Schema):
    index = fields.Integer(required=True)
    action = fields.Dict(required=True)
    outcome = fields.String(allow_none=True)
    reward = fields.Float(required=True)
    breakdown = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    feedback = fields.String(allow_none=True)
    changes = fields.Dict(required=True)
    done = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class EpisodeDetailSchema(Schema):
    """Full recorded history of an episode. The answer key appears only once it is finished."""

    episode_id = fields.String(required=True, attribute="id")
    session_id = fields.String(required=True)
    task = fields.String(required=True)
    seed = fields.Integer(allow_none=True)
    split = fields.String(required=True)
    status = fields.String(required=True)
    agent = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    code = fields.String(required=True)
    diff = fields.String(allow_none=True, metadata={
        "description": "pr_review: the pull request's unified diff of code; planted lines are those of the code after it"})
    file_name = fields.String(required=True)
    step_count = fields.Integer(required=True)
    max_steps = fields.Integer(required=True)
    cumulative_reward = fields.Float(required=True)
    completion_score = fields.Float(allow_none=True)
    success = fields.Boolean(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)
    steps = fields.List(fields.Nested(RecordedStepSchema), required=True)
    result = fields.Dict(allow_none=True)
    planted_issues = fields.List(fields.Nested(PlantedIssueSchema), allow_none=True)
    decoys = fields.List(fields.Nested(DecoySchema), allow_none=True)
    answer_key_hidden = fields.Boolean(
        required=True, metadata={"description": "The planted issues and decoys of this evaluation-split episode "
                                                "are shown to admin keys only."})


class ErrorObjectSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields")


class ErrorSchema(Schema):
    """The one error shape."""

    error = fields.Nested(ErrorObjectSchema, required=True)
