"""The ``llm`` agent: a chat model behind an OpenAI-compatible API reviews the code.

Each step the model sees the numbered code, the task, the hint and every previous action with
its reward and feedback, and answers exactly one JSON action. The reply is parsed strictly:
the whole reply must be one JSON object (optionally inside one ```json fence) that
:meth:`CodeReviewerAction.from_dict` accepts. Anything else is an *invalid reply*: it is
counted, the model is told why on the next turn, and a safe fallback is played instead
(``request_hint``; ``submit_review`` once ``max_invalid_in_a_row`` replies in a row failed).
A failed request (connection, timeout, HTTP error after the client's retries) is handled the
same way and counted as an API error. The agent never raises because of what the model says.

Configuration, read when the agent is built (never at import): ``API_BASE_URL``,
``MODEL_NAME`` and ``HF_TOKEN`` (the API key).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Optional

from openai import OpenAI, OpenAIError

from app.agents.base import EpisodeContext, reviewed_code
from app.env import CodeReviewerAction, CodeReviewerObservation, IssueType, Severity

DEFAULT_API_BASE_URL = "https://router.huggingface.co/v1"
DEFAULT_MODEL_NAME = "Qwen/Qwen2.5-72B-Instruct"

# Values of ``LLMAgent.last_error``: why the last action was a fallback, not the model's choice.
INVALID_REPLY = "invalid_reply"
API_ERROR = "api_error"

REQUEST_HINT = CodeReviewerAction(action_type="request_hint")
SUBMIT_REVIEW = CodeReviewerAction(action_type="submit_review")

_FENCED = re.compile(r"\A```(?:json)?[ \t]*\n(?P<body>.*?)\n?```\Z", re.DOTALL | re.IGNORECASE)

SYSTEM_PROMPT = f"""\
You are an expert Python code reviewer working in a code-review environment.
Every turn, answer with exactly ONE JSON object and nothing else (no prose), one of:
{{"action_type": "identify_issue", "issue": {{"line_number": <int>, "issue_type": "<{'|'.join(t.value for t in IssueType)}>", \
"severity": "<{'|'.join(s.value for s in Severity)}>", "description": "<what is wrong>", "suggested_fix": "<the corrected line>"}}, \
"confidence": <number in [0, 1]>}}
{{"action_type": "request_hint"}}
{{"action_type": "submit_review"}}
line_number is the number printed left of the code line. A correct report earns 0.2 to 0.5
(by severity); a wrong or repeated report costs 0.15; a hint costs 0.05. Report each issue
once, then submit your review: unused steps earn a bonus when the review succeeds."""


class InvalidReply(ValueError):
    """A model reply that is not exactly one valid action."""


@dataclass(frozen=True)
class Turn:
    """One played step as the model is shown it.

    Attributes:
        action: The action played.
        reward: The step's reward.
        feedback: The environment's sentence about the action.
        error: ``None``, or why ``action`` is a fallback (``INVALID_REPLY`` / ``API_ERROR``).
        detail: The parse or request error, when ``error`` is set.
    """

    action: CodeReviewerAction
    reward: Optional[float]
    feedback: str
    error: Optional[str] = None
    detail: Optional[str] = None


def number_lines(code: str) -> str:
    """The code with each line prefixed by its 1-based number: ``"  5 | text"``."""
    lines = code.splitlines()
    width = max(3, len(str(len(lines))))
    return "\n".join(f"{number:>{width}} | {text}" for number, text in enumerate(lines, start=1))


def parse_action(reply: Optional[str]) -> CodeReviewerAction:
    """Parse a model reply into an action, strictly.

    The reply must be a single JSON object, optionally wrapped in one Markdown code fence
    (```json ... ```); no text around it, no JSON picked out of prose.

    Raises:
        InvalidReply: naming what is wrong.
    """
    if not reply or not reply.strip():
        raise InvalidReply("empty reply")
    text = reply.strip()
    fenced = _FENCED.match(text)
    if fenced:
        text = fenced.group("body").strip()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidReply(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidReply("the reply must be one JSON object")
    try:
        return CodeReviewerAction.from_dict(data)
    except (ValueError, TypeError) as exc:  # InvalidAction is a ValueError
        raise InvalidReply(str(exc)) from None


def describe_action(action: CodeReviewerAction) -> str:
    """A short human-readable form of an action, for the prompt."""
    action = action.normalized()
    if action.issue is None:
        return action.action_type.value
    issue = action.issue
    return (f"identify_issue line {issue.line_number} {issue.issue_type.value} "
            f"({issue.severity.value}): {issue.description}")


def build_prompt(observation: CodeReviewerObservation, history: list[Turn]) -> str:
    """The user message of one turn: task, numbered code, hint and the history so far."""
    snippet = observation.code_snippet
    info = observation.info
    parts = [
        f"Task: {observation.task_name} ({observation.task_difficulty}). {observation.task_description}",
        f"File: {snippet.file_name} ({snippet.language})",
    ]
    if snippet.context:
        parts.append(f"Context: {snippet.context}")
    expected = info.get("expected_issue_count")
    parts.append(
        f"Step {observation.step_number + 1} of {observation.max_steps}. "
        f"Planted issues: {'not shown' if expected is None else expected}, found so far: "
        f"{info.get('issues_found', 0)}. Hints left: {info.get('hints_remaining', 0)}."
    )
    if observation.hint_text:
        parts.append(f"Latest hint: {observation.hint_text}")
    if observation.diff is None:
        parts.append("Code:\n" + number_lines(snippet.code))
    else:
        parts.append("Pull request (unified diff of the file):\n" + observation.diff.rstrip("\n"))
        parts.append("Code after the pull request (report these line numbers):\n"
                     + number_lines(reviewed_code(observation)[0]))
    if history:
        lines = []
        for index, turn in enumerate(history, start=1):
            played = describe_action(turn.action)
            if turn.error is not None:
                played = f"your reply was invalid ({turn.detail}); played {played} instead"
            reward = "n/a" if turn.reward is None else f"{turn.reward:+.2f}"
            lines.append(f"{index}. {played} -> reward {reward}. {turn.feedback}")
        parts.append("Your previous actions and their feedback:\n" + "\n".join(lines))
    else:
        parts.append("Your previous actions and their feedback: none yet.")
    parts.append("Answer with ONE JSON object.")
    return "\n\n".join(parts)


class LLMAgent:
    """A chat model as an agent (see the module docstring).

    Args:
        model: Model name; default ``$MODEL_NAME`` or ``Qwen/Qwen2.5-72B-Instruct``.
        base_url: API root; default ``$API_BASE_URL`` or the Hugging Face router.
        api_key: Bearer token; default ``$HF_TOKEN``.
        client: A ready ``openai.OpenAI`` client (the three arguments above are then only
            used for ``model``).
        max_tokens: Upper bound on the reply's length.
        timeout: Seconds before a request is abandoned.
        max_retries: Retries of a failed request by the client.
        max_invalid_in_a_row: Failed turns in a row after which the review is submitted.

    Raises:
        ValueError: no API key is configured.

    Attributes:
        invalid_replies: Replies of this episode that were not a valid action.
        api_errors: Requests of this episode that failed.
        last_error: ``None`` when the last action was the model's, else ``INVALID_REPLY`` or
            ``API_ERROR``.
        last_reply: The raw text of the last reply (``None`` after an API error).
    """

    name = "llm"

    def __init__(
        self,
        model: Optional[str] = None,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        client: Optional[OpenAI] = None,
        max_tokens: int = 400,
        timeout: float = 60.0,
        max_retries: int = 1,
        max_invalid_in_a_row: int = 3,
    ) -> None:
        self.model = model or os.environ.get("MODEL_NAME") or DEFAULT_MODEL_NAME
        if client is None:
            key = api_key or os.environ.get("HF_TOKEN")
            if not key:
                raise ValueError("no API key: set HF_TOKEN (any non-empty value for a local server)")
            client = OpenAI(
                base_url=base_url or os.environ.get("API_BASE_URL") or DEFAULT_API_BASE_URL,
                api_key=key, timeout=timeout, max_retries=max_retries,
            )
        self.client = client
        self.max_tokens = max_tokens
        self.max_invalid_in_a_row = max_invalid_in_a_row
        self.history: list[Turn] = []
        self.invalid_replies = 0
        self.api_errors = 0
        self.last_error: Optional[str] = None
        self.last_reply: Optional[str] = None
        self._failed_in_a_row = 0
        self._pending: Optional[tuple[CodeReviewerAction, Optional[str], Optional[str]]] = None

    def begin(self, observation: CodeReviewerObservation, context: EpisodeContext) -> None:
        """Forget the previous episode."""
        self.history = []
        self.invalid_replies = self.api_errors = self._failed_in_a_row = 0
        self.last_error = self.last_reply = None
        self._pending = None

    def act(self, observation: CodeReviewerObservation) -> CodeReviewerAction:
        """Ask the model for the next action; a fallback when its answer is unusable."""
        if self._pending is not None:
            action, error, detail = self._pending
            self.history.append(Turn(action, observation.reward, observation.feedback, error, detail))
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": build_prompt(observation, self.history)},
        ]
        error: Optional[str] = None
        detail: Optional[str] = None
        try:
            self.last_reply = self._complete(messages)
            action = parse_action(self.last_reply)
        except OpenAIError as exc:
            self.last_reply = None
            self.api_errors += 1
            error, detail = API_ERROR, f"request failed: {exc.__class__.__name__}"
        except InvalidReply as exc:
            self.invalid_replies += 1
            error, detail = INVALID_REPLY, str(exc)
        if error is None:
            self._failed_in_a_row = 0
        else:
            self._failed_in_a_row += 1
            action = SUBMIT_REVIEW if self._failed_in_a_row >= self.max_invalid_in_a_row else REQUEST_HINT
        self.last_error = error
        self._pending = (action, error, detail)
        return action

    def _complete(self, messages: list[dict[str, Any]]) -> Optional[str]:
        completion = self.client.chat.completions.create(
            model=self.model, messages=messages, temperature=0, max_tokens=self.max_tokens,
        )
        try:
            return completion.choices[0].message.content
        except (AttributeError, IndexError, TypeError):  # a completion without a message
            raise InvalidReply("the completion holds no message") from None
