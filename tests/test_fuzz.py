"""Hostile input: the HTTP API fuzzed from its OpenAPI document, the WebSocket handler with
generated frames. No 5xx, no hang, and every error in the one error shape.

``FUZZ_EXAMPLES`` raises the number of generated requests per operation (default 60) for a
longer run.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.openapi import build_openapi
from app.ws import ReviewSocket

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
OPERATIONS = [(path, method.upper()) for path, methods in build_openapi()["paths"].items() for method in methods]
LIVE_SESSION = "fuzz-live"
# Checks that hold for every operation. Left out on purpose: "schema-valid request rejected"
# (task names are data, not an enum of the document) and "invalid request accepted" (/mcp
# answers every request with HTTP 200 and a JSON-RPC error, as JSON-RPC requires).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)


def assert_error_shape(body: Any) -> None:
    """The one REST error shape: ``{"error": {"code", "message", "fields"?}}``, nothing else."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and {"code", "message"} <= set(error) <= {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"].isupper()
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in json.dumps(body)


def use_live_session(case: Any) -> None:
    """Point a generated request at a session that exists, so steps reach the engine."""
    if isinstance(case.body, dict) and "session_id" in case.body:
        case.body["session_id"] = LIVE_SESSION
    if isinstance(case.query, dict) and "session_id" in case.query:
        case.query["session_id"] = LIVE_SESSION


@pytest.mark.parametrize("path, method", OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_http_operation_survives_generated_requests(app, path: str, method: str) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = schema[path][method]
    client = app.test_client()
    client.post("/reset", json={"session_id": LIVE_SESSION, "task": "security_audit"})
    requests = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=requests, live=st.booleans())
    @FUZZ_SETTINGS
    def exercise(case: Any, live: bool) -> None:
        if live:
            use_live_session(case)
        response = case.call()
        assert response.status_code < 500, response.text[:500]
        if response.status_code >= 400:
            assert_error_shape(response.json())
        case.validate_response(response, checks=CHECKS)
        if live and response.status_code == 409:  # the episode ended: start another one
            client.post("/reset", json={"session_id": LIVE_SESSION, "task": "security_audit"})

    exercise()


@pytest.mark.parametrize("body", [
    b"[" * 100_000,  # nested beyond the parser's recursion limit (and over the body limit)
    b"[" * 20_000,  # nested beyond the parser's recursion limit, under the body limit
    b'{"session_id": "x", "action": {"action_type": "request_hint", "metadata": ' + b'{"a":' * 40 + b"1" + b"}" * 42,
    b'{"session_id": "a\\u0000b", "action": {"action_type": "submit_review"}}',
    b'{"session_id": "\\ud800", "action": {"action_type": "submit_review"}}',
    b'{"session_id": "x", "action": {"action_type": "request_hint", "metadata": {"x": NaN}}}',
    b'{"session_id": "x", "action": {"action_type": "request_hint"}, "timeout_s": Infinity}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "\\ud800"}',
    b'{"jsonrpc": "2.0", "id": "\\udc00", "method": "tools/list", "\\ud800": 1}',
    b"\xff\xfe\x00\x01",
    b"",
])
@pytest.mark.parametrize("path", ["/reset", "/step", "/mcp"])
def test_hostile_bodies_are_client_errors(client, path: str, body: bytes) -> None:  # type: ignore[no-untyped-def]
    client.post("/reset", json={"session_id": "x"})
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code < 500
    if path == "/mcp" and response.status_code == 200:
        assert "error" in response.get_json()  # JSON-RPC errors travel in a 200
    elif response.status_code != 200:
        assert response.status_code in (413, 422)
        assert_error_shape(response.get_json())


@pytest.mark.parametrize("url", [
    "/state?session_id=a%00b", "/result?session_id=a%00b", "/api/episodes/a%00b",
    "/api/episodes/a%00b/replay", "/api/episodes?task=%00", "/api/analytics/summary?agent=%00",
    "/api/export?model=%00", "/api/episodes/" + "x" * 300, "/api/episodes?since=0001-01-01T00:00:00%2B14:00",
])
def test_hostile_urls_are_client_errors(client, url: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code in (200, 404, 422)
    if response.status_code != 200:
        assert_error_shape(response.get_json())


# ---------------------------------------------------------------------- WebSocket frames

hostile_text = st.text(max_size=40) | st.sampled_from(["a\x00b", "\ud800", "x" * 2001, "\u202e", "", " "])
json_leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
               | hostile_text)
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(hostile_text, inner, max_size=4), max_leaves=20)


valid_issues = st.fixed_dictionaries({
    "line_number": st.integers(1, 120),
    "issue_type": st.sampled_from(["syntax_error", "logic_bug", "security_vulnerability"]),
    "severity": st.sampled_from(["low", "medium", "high", "critical"]),
}, optional={"description": hostile_text, "suggested_fix": st.none() | hostile_text})
action_extras = {"confidence": st.floats(0, 1), "metadata": st.dictionaries(hostile_text, json_values, max_size=3)}
valid_actions = st.one_of(
    st.fixed_dictionaries({"action_type": st.just("identify_issue"), "issue": valid_issues}, optional=action_extras),
    st.fixed_dictionaries({"action_type": st.sampled_from(["request_hint", "submit_review"])},
                          optional=action_extras),
)
CORRUPTIBLE = ("action_type", "issue", "confidence", "metadata", "extra", "issue.line_number",
               "issue.issue_type", "issue.severity", "issue.description", "issue.suggested_fix", "issue.extra")


def corrupt(action: dict[str, Any], path: Any, value: Any) -> dict[str, Any]:
    """``action`` with the value at ``path`` (``None``: nothing) replaced by ``value``."""
    action = json.loads(json.dumps(action))
    if path is None:
        return action
    *parents, key = path.split(".")
    target = action
    for parent in parents:
        if not isinstance(target.get(parent), dict):
            return action
        target = target[parent]
    target[key] = value
    return action


# Well-formed actions with at most one hostile value, so most reach the engine and the database.
actions = st.builds(corrupt, valid_actions, st.none() | st.sampled_from(CORRUPTIBLE), json_values)
issues = valid_issues | json_values

reset_args = st.fixed_dictionaries({}, optional={
    "task": st.sampled_from(["syntax_check", "logic_bug_detection", "security_audit", "full_review", "nope"])
    | json_values,
    "seed": st.integers(-1, 2**64) | json_values,
    "split": st.sampled_from(["train", "validation", "test", "holdout"]) | json_values,
    "session_id": hostile_text | json_values,
    "episode_id": hostile_text | json_values,
    "agent": json_values,
})
session_args = st.fixed_dictionaries({"session_id": hostile_text | json_values})
mcp_requests = st.fixed_dictionaries({"jsonrpc": st.just("2.0") | json_values}, optional={
    "id": st.integers() | st.text(max_size=5) | json_values,
    "method": st.sampled_from(["tools/list", "tools/call", "openenv/session/create", "openenv/session/close",
                               "nope"]) | json_values,
    "params": st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["start_review", "identify_issue", "request_hint", "submit_review",
                                 "get_review_state", "get_review_result", "x"]) | json_values,
        "arguments": reset_args | issues | session_args | json_values,
        "session_id": hostile_text | json_values,
    }) | json_values,
})
openenv_frames = st.one_of(
    st.fixed_dictionaries({"type": st.just("reset")}, optional={"data": reset_args | json_values}),
    st.fixed_dictionaries({"type": st.just("step")}, optional={"data": actions | json_values}),
    st.fixed_dictionaries({"type": st.sampled_from(["state", "nope"]) | json_values}, optional={"data": json_values}),
    st.fixed_dictionaries({"type": st.just("mcp")}, optional={"data": mcp_requests | json_values}),
)
original_frames = st.one_of(
    st.fixed_dictionaries({"action": st.just("reset")}).flatmap(
        lambda frame: reset_args.map(lambda args: {**frame, **args})),
    st.fixed_dictionaries({"action": st.just("step")}, optional={"data": actions | json_values}),
    st.fixed_dictionaries({"action": st.sampled_from(["state", "get_result", "nope"]) | json_values}),
)
objects = openenv_frames | original_frames | st.dictionaries(st.text(max_size=8), json_values, max_size=4)
frames = st.one_of(
    objects.map(lambda frame: json.dumps(frame)),  # NaN and Infinity included, as Python writes them
    objects.map(lambda frame: json.dumps(frame).encode("utf-8")),
    json_values.map(json.dumps),
    st.text(max_size=60),
    st.binary(max_size=60),
    st.sampled_from([b"\xff\xfe\x00", b"\xc3\x28", "[" * 50_000, "{" * 3000, "x" * 70_000, "", "null",
                     '{"type": "step", "data": ' + '{"metadata": ' * 40 + "1" + "}" * 41]),
)


def assert_frame(reply: Any, keep_open: bool) -> None:
    """A reply is a JSON frame; an error frame carries the one error object; nothing is a 500."""
    if reply is None:
        assert keep_open is False  # only "close" ends a socket without a reply
        return
    # Writable by any JSON writer: no NaN, no lone surrogate (strict UTF-8), nothing exotic.
    text = json.dumps(reply, default=str, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    assert "Traceback" not in text
    assert reply["type"] in {"observation", "state", "result", "mcp", "error"}
    if reply["type"] == "error":
        data = reply["data"]
        assert data["code"] in {"INVALID_JSON", "UNKNOWN_TYPE", "VALIDATION_ERROR", "EXECUTION_ERROR"}
        assert isinstance(data["message"], str) and data["message"]
        assert data.get("status", 400) < 500, data
    if reply["type"] == "mcp" and "error" in reply["data"]:
        assert reply["data"]["error"]["code"] != -32603, reply  # JSON-RPC's internal error


def test_websocket_handler_survives_generated_frames(app) -> None:  # type: ignore[no-untyped-def]
    @given(sequence=st.lists(frames, min_size=1, max_size=6), start=st.booleans())
    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 3)
    def exercise(sequence: list[Any], start: bool) -> None:
        connection = ReviewSocket(app)
        if start:
            reply, _ = connection.handle(json.dumps({"type": "reset", "data": {"task": "security_audit"}}))
            assert reply is not None and reply["type"] == "observation"
        for raw in sequence:
            started = time.monotonic()
            reply, keep_open = connection.handle(raw)
            assert time.monotonic() - started < 10, "a frame took more than 10 s"
            assert_frame(reply, keep_open)
            if not keep_open:
                break

    exercise()


def test_websocket_steps_with_generated_actions(app) -> None:  # type: ignore[no-untyped-def]
    """Step frames (both envelopes) reach the engine and the database with hostile values."""
    @given(action=actions, task=st.sampled_from(["syntax_check", "security_audit"]), openenv=st.booleans())
    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 2)
    def exercise(action: dict[str, Any], task: str, openenv: bool) -> None:
        connection = ReviewSocket(app)
        reply, _ = connection.handle(json.dumps({"type": "reset", "data": {"task": task}}))
        assert reply is not None and reply["type"] == "observation"
        frame = {"type": "step", "data": action} if openenv else {"action": "step", "data": action}
        assert_frame(*connection.handle(json.dumps(frame)))

    exercise()


def hostile_step(**issue: Any) -> str:
    action = {"action_type": "identify_issue", "issue": {"line_number": 3, "issue_type": "logic_bug",
                                                         "severity": "low", **issue}}
    return json.dumps({"type": "step", "data": action})


@pytest.mark.parametrize("raw", [
    hostile_step(line_number=2**64),
    hostile_step(description="a\x00b"),
    hostile_step(suggested_fix="\ud800"),
    '{"type": "step", "data": {"action_type": "request_hint", "metadata": {"n": NaN}}}',
    '{"type": "step", "data": {"action_type": "request_hint", "metadata": {"n": %d}}}' % (2**64 - 1),
    '{"type": "reset", "data": {"session_id": "a\\u0000"}}',
    '{"type": "\\ud800"}',
    '{"type": "mcp", "data": {"jsonrpc": "2.0", "id": 1, "method": "\\ud800"}}',
    "[" * 50_000,
    b"\xc3\x28",
])
def test_hostile_frames_are_client_errors(app, raw: Any) -> None:  # type: ignore[no-untyped-def]
    """Refused as invalid JSON (a strict parser: NaN, lone surrogates) or at validation, the
    socket stays open and nothing changes."""
    connection = ReviewSocket(app)
    connection.handle(json.dumps({"type": "reset", "data": {}}))
    reply, keep_open = connection.handle(raw)
    assert keep_open and reply is not None and reply["type"] == "error"
    assert reply["data"]["code"] in {"INVALID_JSON", "VALIDATION_ERROR"}, reply
    assert connection.handle(json.dumps({"type": "state"}))[0]["data"]["step_count"] == 0


def test_websocket_frames_over_a_real_socket(make_app, serve) -> None:  # type: ignore[no-untyped-def]
    """Text, binary, invalid UTF-8 and oversized frames through the server: each gets a frame
    back within the timeout, and the socket stays usable."""
    address = serve(make_app(WS_MAX_MESSAGES_PER_SECOND=0))
    with connect(f"ws://{address}/ws", max_size=None) as ws:
        ws.send(json.dumps({"type": "reset", "data": {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "observation"

        @given(raw=frames.filter(lambda raw: raw not in ('{"type": "close"}', b'{"type": "close"}')))
        @settings(FUZZ_SETTINGS, max_examples=EXAMPLES)
        def exercise(raw: Any) -> None:
            if isinstance(raw, str) and '"close"' in raw:
                raw = raw.replace('"close"', '"state"')
            if isinstance(raw, bytes) and b'"close"' in raw:
                raw = raw.replace(b'"close"', b'"state"')
            ws.send(raw)
            try:
                reply = json.loads(ws.recv(timeout=10))
            except ConnectionClosed as closed:  # pragma: no cover - a failure, with the reason
                pytest.fail(f"the server closed the socket on {raw!r:.80}: {closed}")
            assert_frame(reply, True)

        exercise()
        ws.send(json.dumps({"type": "state"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "state"
