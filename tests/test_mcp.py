"""MCP over JSON-RPC 2.0 on ``POST /mcp`` through the Flask test client, on SQLite and Postgres.

The contract is OpenEnv's (see ``openenv.core.env_server.http_server.mcp_endpoint``): every reply is
HTTP 200 with a JSON-RPC 2.0 body; errors are -32700 parse error, -32600 invalid request,
-32601 unknown method, -32602 invalid params (including unknown sessions), -32000 a conflict.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from app.env import load_registry

SYNTAX = load_registry().get("syntax_check").canonical
TOOLS = ["start_review", "identify_issue", "request_hint", "submit_review",
         "get_review_state", "get_review_result"]
RESERVED = {"reset", "step", "state", "close"}


def rpc(client, method: str, params: dict[str, Any] | None = None, request_id: Any = 1) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Send one JSON-RPC request; assert the transport-level contract (HTTP 200, JSON-RPC 2.0)."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        body["params"] = params
    return raw(client, json=body)


def raw(client, **kwargs: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.post("/mcp", **kwargs)
    assert response.status_code == 200
    assert response.is_json
    reply = response.get_json()
    assert isinstance(reply, dict) and reply["jsonrpc"] == "2.0"
    assert "id" in reply
    assert ("result" in reply) != ("error" in reply)
    return reply


def error_of(reply: dict[str, Any], code: int) -> dict[str, Any]:
    assert "error" in reply, reply
    error = reply["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error


def call(client, name: str, arguments: dict[str, Any] | None = None,  # type: ignore[no-untyped-def]
         session_id: str | None = None, request_id: Any = 1) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    if session_id is not None:
        params["session_id"] = session_id
    return rpc(client, "tools/call", params, request_id)


def tool_result(reply: dict[str, Any]) -> dict[str, Any]:
    """The structured content of a successful tool call, after checking the MCP result shape."""
    assert "result" in reply, reply
    result = reply["result"]
    assert result["isError"] is False
    content = result["content"]
    assert isinstance(content, list) and content
    texts = [item for item in content if item.get("type") == "text"]
    assert texts, content
    decoded = json.loads(texts[0]["text"])  # the text item is valid JSON
    structured = result["structuredContent"]
    assert isinstance(structured, dict)
    assert decoded == structured
    return structured


def create_session(client) -> str:  # type: ignore[no-untyped-def]
    reply = rpc(client, "openenv/session/create", {})
    session_id = reply["result"]["session_id"]
    assert isinstance(session_id, str) and session_id
    return session_id


def start(client, session_id: str, task: str = "syntax_check") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return tool_result(call(client, "start_review", {"task": task}, session_id=session_id))


def issue_args(planted: Any) -> dict[str, Any]:
    return {"line_number": planted.line_number, "issue_type": planted.issue_type.value,
            "severity": planted.severity.value, "description": planted.description}


# ---------------------------------------------------------------------- envelope errors


def test_empty_object_is_invalid_request_with_jsonrpc_2(client) -> None:  # type: ignore[no-untyped-def]
    # This is exactly what `openenv validate` sends: it only checks HTTP 200 and jsonrpc == "2.0".
    reply = raw(client, json={})
    error_of(reply, -32600)
    assert reply["id"] is None


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00garbage", b'{"jsonrpc": "2.0",'])
def test_invalid_json_is_parse_error(client, body: bytes) -> None:  # type: ignore[no-untyped-def]
    reply = raw(client, data=body, content_type="application/json")
    error_of(reply, -32700)
    assert reply["id"] is None


@pytest.mark.parametrize("payload", [[], [{"jsonrpc": "2.0", "method": "tools/list", "id": 1}], "x", 3, None])
def test_non_object_json_is_parse_error(client, payload: Any) -> None:  # type: ignore[no-untyped-def]
    reply = raw(client, data=json.dumps(payload), content_type="application/json")
    error_of(reply, -32700)
    assert reply["id"] is None


@pytest.mark.parametrize("payload", [
    {"jsonrpc": "1.0", "method": "tools/list", "id": 1},
    {"method": "tools/list", "id": 1},
    {"jsonrpc": "2.0", "id": 1},
    {"jsonrpc": "2.0", "method": 7, "id": 1},
    {"jsonrpc": "2.0", "method": "tools/list", "params": [], "id": 1},
    {"jsonrpc": "2.0", "method": "tools/list", "id": 1, "extra": True},
    {"jsonrpc": "2.0", "method": "tools/list", "id": {"nested": 1}},
    {"jsonrpc": "2.0", "method": "tools/list", "id": True},
])
def test_malformed_requests_are_invalid_request(client, payload: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    error_of(raw(client, json=payload), -32600)


def test_invalid_request_names_the_problem(client) -> None:  # type: ignore[no-untyped-def]
    reply = raw(client, json={"jsonrpc": "1.0", "method": "tools/list", "id": 4})
    assert "jsonrpc" in error_of(reply, -32600)["message"]
    reply = raw(client, json={"jsonrpc": "2.0", "method": "tools/list", "id": 5, "colour": "red"})
    assert "colour" in error_of(reply, -32600)["message"]


@pytest.mark.parametrize("request_id", [17, "req-abc", None])
def test_unknown_method_echoes_the_id(client, request_id: Any) -> None:  # type: ignore[no-untyped-def]
    reply = rpc(client, "resources/list", {}, request_id=request_id)
    error = error_of(reply, -32601)
    assert reply["id"] == request_id
    assert "resources/list" in error["message"]


def test_success_echoes_the_id(client) -> None:  # type: ignore[no-untyped-def]
    assert rpc(client, "tools/list", request_id="abc")["id"] == "abc"
    assert rpc(client, "tools/list", request_id=99)["id"] == 99
    # params may be omitted
    assert "tools" in raw(client, json={"jsonrpc": "2.0", "method": "tools/list", "id": 1})["result"]


# ---------------------------------------------------------------------- tools/list


def test_tools_list(client) -> None:  # type: ignore[no-untyped-def]
    tools = rpc(client, "tools/list", {})["result"]["tools"]
    names = [tool["name"] for tool in tools]
    assert sorted(names) == sorted(TOOLS) and len(names) == len(set(names))
    assert not RESERVED & set(names)
    by_name = {tool["name"]: tool for tool in tools}
    for tool in tools:
        assert isinstance(tool["description"], str) and tool["description"]
        schema = tool["inputSchema"]
        assert isinstance(schema, dict) and schema["type"] == "object"
        assert isinstance(schema["properties"], dict)
        jsonschema.Draft202012Validator.check_schema(schema)
    identify = by_name["identify_issue"]["inputSchema"]
    assert {"line_number", "issue_type", "severity", "session_id"} <= set(identify["required"])
    assert set(identify["required"]) == {"line_number", "issue_type", "severity", "session_id"}
    for name in ("request_hint", "submit_review", "get_review_state", "get_review_result"):
        assert by_name[name]["inputSchema"]["required"] == ["session_id"]
    assert "task" in by_name["start_review"]["inputSchema"]["properties"]
    assert not by_name["start_review"]["inputSchema"].get("required")


def test_input_schemas_accept_the_arguments_the_server_accepts(client) -> None:  # type: ignore[no-untyped-def]
    tools = {tool["name"]: tool["inputSchema"] for tool in rpc(client, "tools/list")["result"]["tools"]}
    session_id = create_session(client)
    start_args = {"task": "syntax_check", "session_id": session_id, "seed": 3}
    jsonschema.validate(start_args, tools["start_review"])
    tool_result(call(client, "start_review", start_args))
    identify = {**issue_args(SYNTAX.issues[0]), "session_id": session_id, "confidence": 0.5,
                "suggested_fix": SYNTAX.issues[0].fix}
    jsonschema.validate(identify, tools["identify_issue"])
    tool_result(call(client, "identify_issue", identify))
    for bad in ({**identify, "line_number": 0}, {**identify, "issue_type": "typo"},
                {**identify, "confidence": 2}, {k: v for k, v in identify.items() if k != "severity"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, tools["identify_issue"])
        error_of(call(client, "identify_issue", bad), -32602)


# ---------------------------------------------------------------------- sessions and a full episode


def test_session_create_returns_distinct_ids(client) -> None:  # type: ignore[no-untyped-def]
    first, second = create_session(client), create_session(client)
    assert first != second


@pytest.mark.parametrize("session_in", ["params", "arguments"])
def test_full_episode_through_tools_call(client, session_in: str) -> None:  # type: ignore[no-untyped-def]
    session_id = create_session(client)

    def tool(name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        arguments = dict(arguments or {})
        if session_in == "arguments":
            arguments["session_id"] = session_id
            return tool_result(call(client, name, arguments))
        return tool_result(call(client, name, arguments, session_id=session_id))

    started = tool("start_review", {"task": "syntax_check"})
    assert started["session_id"] == session_id and started["done"] is False and started["reward"] is None
    episode_id = started["episode_id"]
    assert started["observation"]["code_snippet"]["code"] == SYNTAX.snippet.code
    assert started["observation"]["task_name"] == "syntax_check"

    state = tool("get_review_state")
    assert state["episode_id"] == episode_id and state["step_count"] == 0 and state["status"] == "running"

    for index, planted in enumerate(SYNTAX.issues, start=1):
        step = tool("identify_issue", issue_args(planted))
        assert step["done"] is False and step["reward"] > 0
        assert step["observation"]["info"]["issues_found"] == index
    partial = tool("get_review_result")
    assert partial["found"] == len(SYNTAX.issues) and partial["done"] is False

    final = tool("submit_review")
    assert final["done"] is True
    assert final["observation"]["done"] is True

    result = tool("get_review_result")
    assert result["completion_score"] == 1.0 and result["done"] is True
    assert result["found"] == result["expected"] == len(SYNTAX.issues)
    assert tool("get_review_state")["status"] == "finished"

    history = client.get(f"/api/episodes/{episode_id}")
    assert history.status_code == 200
    history = history.get_json()
    assert history["session_id"] == session_id and history["status"] == "finished"
    assert history["completion_score"] == 1.0
    steps = history["steps"]
    assert [s["index"] for s in steps] == list(range(1, len(SYNTAX.issues) + 2))
    assert [s["action"]["action_type"] for s in steps] == ["identify_issue"] * len(SYNTAX.issues) + ["submit_review"]
    assert [s["action"]["issue"]["line_number"] for s in steps[:-1]] == [i.line_number for i in SYNTAX.issues]
    assert steps[-1]["done"] is True
    assert len(history["planted_issues"]) == len(SYNTAX.issues)


def test_hint_and_confidence_are_recorded(client) -> None:  # type: ignore[no-untyped-def]
    session_id = create_session(client)
    episode_id = start(client, session_id)["episode_id"]
    hint = tool_result(call(client, "request_hint", {}, session_id=session_id))
    assert hint["observation"]["hint_text"]
    tool_result(call(client, "identify_issue", {**issue_args(SYNTAX.issues[0]), "confidence": 0.25},
                     session_id=session_id))
    steps = client.get(f"/api/episodes/{episode_id}").get_json()["steps"]
    assert [s["action"]["action_type"] for s in steps] == ["request_hint", "identify_issue"]
    assert steps[1]["action"]["confidence"] == 0.25


def test_start_review_without_a_session_makes_one(client) -> None:  # type: ignore[no-untyped-def]
    started = tool_result(call(client, "start_review", {}))
    assert started["session_id"] and started["observation"]["task_name"] == "syntax_check"
    state = tool_result(call(client, "get_review_state", {"session_id": started["session_id"]}))
    assert state["episode_id"] == started["episode_id"]


# ---------------------------------------------------------------------- tool errors


@pytest.mark.parametrize("change, field", [
    ({"line_number": 0}, "line_number"),
    ({"issue_type": "style"}, "issue_type"),
    ({"severity": "apocalyptic"}, "severity"),
    ({"line_number": "3"}, "line_number"),
    ({"colour": "red"}, "colour"),
])
def test_bad_tool_arguments_are_invalid_params_and_change_nothing(client, change, field) -> None:  # type: ignore[no-untyped-def]
    session_id = create_session(client)
    start(client, session_id)
    arguments = {**issue_args(SYNTAX.issues[0]), **change}
    reply = call(client, "identify_issue", arguments, session_id=session_id)
    error = error_of(reply, -32602)
    assert reply["id"] == 1
    assert field in error["data"]["fields"]
    assert isinstance(error["data"]["fields"][field], list) and error["data"]["fields"][field]
    state = tool_result(call(client, "get_review_state", {}, session_id=session_id))
    assert state["step_count"] == 0


def test_missing_session_argument_is_invalid_params(client) -> None:  # type: ignore[no-untyped-def]
    error = error_of(call(client, "submit_review", {}), -32602)
    assert "session_id" in error["data"]["fields"]


@pytest.mark.parametrize("name", ["identify_issue", "request_hint", "submit_review",
                                  "get_review_state", "get_review_result"])
def test_unknown_session_is_invalid_params(client, name: str) -> None:  # type: ignore[no-untyped-def]
    arguments = issue_args(SYNTAX.issues[0]) if name == "identify_issue" else {}
    error = error_of(call(client, name, arguments, session_id="no-such-session"), -32602)
    assert "no-such-session" in error["message"]


def test_session_without_episode_is_invalid_params(client) -> None:  # type: ignore[no-untyped-def]
    session_id = create_session(client)
    error_of(call(client, "request_hint", {}, session_id=session_id), -32602)


def test_tool_on_a_finished_episode_is_a_conflict(client) -> None:  # type: ignore[no-untyped-def]
    session_id = create_session(client)
    start(client, session_id)
    tool_result(call(client, "submit_review", {}, session_id=session_id))
    for name, arguments in (("submit_review", {}), ("request_hint", {}),
                            ("identify_issue", issue_args(SYNTAX.issues[0]))):
        reply = call(client, name, arguments, session_id=session_id, request_id="late")
        error_of(reply, -32000)
        assert reply["id"] == "late"
    # reading a finished episode is still fine
    assert tool_result(call(client, "get_review_result", {}, session_id=session_id))["done"] is True


def test_missing_tool_name_is_invalid_params(client) -> None:  # type: ignore[no-untyped-def]
    error = error_of(rpc(client, "tools/call", {"arguments": {}}), -32602)
    assert "name" in error["message"]
    error_of(rpc(client, "tools/call", {}), -32602)
    error_of(rpc(client, "tools/call"), -32602)


@pytest.mark.parametrize("name", ["nope", "reset", "step", "state", "close"])
def test_unknown_tool_is_invalid_params(client, name: str) -> None:  # type: ignore[no-untyped-def]
    error = error_of(call(client, name, {}), -32602)
    assert name in error["message"]


def test_non_object_arguments_are_invalid_params(client) -> None:  # type: ignore[no-untyped-def]
    error_of(rpc(client, "tools/call", {"name": "get_review_state", "arguments": ["x"]}), -32602)


# ---------------------------------------------------------------------- session close


def test_session_close(client) -> None:  # type: ignore[no-untyped-def]
    session_id = create_session(client)
    episode_id = start(client, session_id)["episode_id"]
    reply = rpc(client, "openenv/session/close", {"session_id": session_id})
    assert reply["result"]["closed"] is True and reply["result"]["session_id"] == session_id
    # its running episode is abandoned and the session cannot act any more
    assert client.get(f"/api/episodes/{episode_id}").get_json()["status"] == "abandoned"
    error_of(call(client, "request_hint", {}, session_id=session_id), -32000)
    error_of(call(client, "start_review", {}, session_id=session_id), -32000)


def test_session_close_errors(client) -> None:  # type: ignore[no-untyped-def]
    error = error_of(rpc(client, "openenv/session/close", {"session_id": "ghost"}), -32602)
    assert "ghost" in error["message"]
    error_of(rpc(client, "openenv/session/close", {}), -32602)
    error_of(rpc(client, "openenv/session/close", {"session_id": 5}), -32602)


def test_a_resent_step_tool_call_gets_its_stored_reply(client) -> None:  # type: ignore[no-untyped-def]
    """The step tools follow /step's contract: a call resent with its request_id (or
    expected_step) is answered with the stored reply, not applied twice."""
    session_id = tool_result(call(client, "start_review", {"task": "syntax_check", "seed": 5}))["session_id"]
    issue = {"session_id": session_id, "line_number": 3, "issue_type": "syntax_error", "severity": "high",
             "request_id": "call-1"}
    first = tool_result(call(client, "identify_issue", issue))
    again = tool_result(call(client, "identify_issue", issue))
    assert again["metadata"]["replayed"] is True and again["observation"] == first["observation"]
    hint = tool_result(call(client, "request_hint", {"session_id": session_id, "expected_step": 2}))
    assert hint["observation"]["step_number"] == 2
    stale = call(client, "request_hint", {"session_id": session_id, "expected_step": 2, "request_id": "other"})
    assert stale["error"]["code"] == -32000, stale  # step 2 exists, and this is not its request
    state = tool_result(call(client, "get_review_state", {"session_id": session_id}))
    assert state["step_count"] == 2


@pytest.mark.parametrize("request_id", ["123456789012345678901234", "-99999999999999999999"])
def test_an_id_beyond_64_bits_is_an_invalid_request_not_a_crash(client, request_id: str) -> None:  # type: ignore[no-untyped-def]
    body = '{"jsonrpc": "2.0", "id": %s, "method": "tools/list"}' % request_id
    response = client.post("/mcp", data=body, content_type="application/json")
    assert response.status_code == 200
    reply = response.get_json()
    assert reply["error"]["code"] == -32600 and reply["id"] is None, reply
