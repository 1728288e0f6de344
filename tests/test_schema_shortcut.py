"""The step's validation shortcut (``plainly_valid_action``, ``plainly_valid_step_request``)
accepts nothing the schemas refuse, and does accept the actions agents ordinarily send."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from app.env import ActionType, IssueType, Severity
from app.schemas import ActionSchema, StepRequestSchema, plainly_valid_action, plainly_valid_step_request

action_schema, step_schema = ActionSchema(), StepRequestSchema()

# Values near every boundary the schemas draw, of every JSON type and a few Python-only ones.
texts = st.one_of(
    st.sampled_from(["", "x", "a\x00b", "\ud800", "é", "x" * 2000, "x" * 2001, "x" * 128, "x" * 129,
                     "x" * 255, "x" * 256]),
    st.text(max_size=40),
)
numbers = st.one_of(
    st.sampled_from([0, 1, -1, 2, 0.0, 1.0, 0.5, -0.0, 1.0000001, -1e-9, 2**63 - 1, 2**63, 2**64, -(2**63) - 1,
                     float("nan"), float("inf"), float("-inf"), True, False]),
    st.integers(), st.floats(),
)
scalars = st.one_of(st.none(), texts, numbers)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)), max_leaves=8)
deep = st.integers(min_value=30, max_value=34).map(lambda n: _nest(n))


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


def _field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes anything."""
    return st.one_of(valid, valid, valid, json_values)


issues = st.fixed_dictionaries(
    {"line_number": _field(st.integers(min_value=-2, max_value=500) | st.integers(min_value=2**63 - 2, max_value=2**63 + 1)),
     "issue_type": _field(st.sampled_from([t.value for t in IssueType])),
     "severity": _field(st.sampled_from([s.value for s in Severity]))},
    optional={"description": _field(st.text(max_size=60) | texts), "suggested_fix": _field(st.none() | st.text(max_size=60) | texts),
              "cwe": json_values},
)
actions = st.fixed_dictionaries(
    {"action_type": _field(st.sampled_from([a.value for a in ActionType]))},
    optional={"issue": _field(st.none() | issues), "confidence": _field(st.none() | st.floats(-0.1, 1.1)),
              "metadata": _field(st.dictionaries(texts, json_values, max_size=3) | deep), "extra": json_values},
)
step_requests = st.fixed_dictionaries(
    {"session_id": _field(st.text(max_size=20) | texts), "action": _field(actions)},
    optional={"timeout_s": _field(st.none() | st.floats(0, 60)), "request_id": _field(st.none() | st.text(max_size=20) | texts),
              "extra": json_values},
)


def _accepted(schema: Any, data: Any) -> bool:
    try:
        schema.load(data)
    except ValidationError:
        return False
    return True


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_an_action_the_shortcut_accepts_the_schema_accepts(action: dict[str, Any]) -> None:
    if plainly_valid_action(action):
        assert _accepted(action_schema, action), action


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step_requests)
def test_a_step_request_the_shortcut_accepts_the_schema_accepts(body: dict[str, Any]) -> None:
    if plainly_valid_step_request(body):
        assert _accepted(step_schema, body), body


@pytest.mark.parametrize("action", [
    {"action_type": "identify_issue", "issue": {"line_number": 3, "issue_type": "logic_bug", "severity": "high",
                                                "description": "off by one", "suggested_fix": "range(n)"},
     "confidence": 0.8, "metadata": {}},
    {"action_type": "identify_issue", "issue": {"line_number": 1, "issue_type": "security_vulnerability",
                                                "severity": "critical", "description": "injection — über"}},
    {"action_type": "request_hint"},
    {"action_type": "submit_review", "metadata": {"agent": {"turn": 3, "scores": [0.5, 1]}}},
])
def test_ordinary_actions_take_the_shortcut(action: dict[str, Any]) -> None:
    assert plainly_valid_action(action)
    assert plainly_valid_step_request({"session_id": "s-1", "action": action, "timeout_s": 30, "request_id": "r"})


@pytest.mark.parametrize("action", [
    {"action_type": "identify_issue"},  # needs an issue
    {"action_type": "identify_issue", "issue": {"line_number": 0, "issue_type": "logic_bug", "severity": "high"}},
    {"action_type": "submit_review", "confidence": 1.5},
    {"action_type": "submit_review", "confidence": True},
    {"action_type": "submit_review", "metadata": {"text": "a\x00b"}},
    {"action_type": "submit_review", "unknown": 1},
    {"action_type": ["submit_review"]},
    {"action_type": "identify_issue", "issue": {"line_number": 2, "issue_type": ["logic_bug"], "severity": "high"}},
])
def test_anything_doubtful_goes_to_the_schema(action: dict[str, Any]) -> None:
    assert not plainly_valid_action(action)
