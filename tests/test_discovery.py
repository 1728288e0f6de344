"""Discovery documents (/openapi.json, /metadata, /schema) checked against real traffic.

``openenv validate`` only checks the shapes of these documents; here the JSON schemas they publish
are also used (with the ``jsonschema`` package, draft 2020-12 as OpenEnv does) to validate real
requests and replies, in both directions: what the server accepts validates, and what it rejects
does not, so neither the schemas nor the server can drift silently.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import jsonschema
import pytest

import app as app_package
from app.env import load_registry

REGISTRY = load_registry()
SYNTAX = REGISTRY.get("syntax_check").canonical
FIRST = SYNTAX.issues[0]
Validator = jsonschema.Draft202012Validator

ISSUE = {"line_number": FIRST.line_number, "issue_type": FIRST.issue_type.value,
         "severity": FIRST.severity.value}
# Actions the server accepts, as an OpenEnv client sends them (with "metadata": {}).
VALID_ACTIONS = {
    "identify_minimal": {"action_type": "identify_issue", "issue": dict(ISSUE), "metadata": {}},
    "identify_full": {"action_type": "identify_issue", "confidence": 0.75, "metadata": {},
                      "issue": {**ISSUE, "description": FIRST.description, "suggested_fix": FIRST.fix}},
    "identify_null_options": {"action_type": "identify_issue", "confidence": None, "metadata": {},
                              "issue": {**ISSUE, "line_number": SYNTAX.issues[1].line_number,
                                        "suggested_fix": None}},
    "identify_false_positive": {"action_type": "identify_issue", "metadata": {},
                                "issue": {"line_number": 1, "issue_type": "logic_bug", "severity": "low",
                                          "description": "not a bug"}},
    "hint": {"action_type": "request_hint", "metadata": {}},
    "hint_without_metadata": {"action_type": "request_hint"},
    "submit": {"action_type": "submit_review", "metadata": {}},
}
# Actions the server rejects with 422.
INVALID_ACTIONS = {
    "unknown_action_type": {"action_type": "fly", "metadata": {}},
    "line_number_zero": {"action_type": "identify_issue", "metadata": {}, "issue": {**ISSUE, "line_number": 0}},
    "unknown_issue_type": {"action_type": "identify_issue", "issue": {**ISSUE, "issue_type": "typo"}},
    "unknown_severity": {"action_type": "identify_issue", "issue": {**ISSUE, "severity": "dire"}},
    "line_number_string": {"action_type": "identify_issue", "issue": {**ISSUE, "line_number": "3"}},
    "line_number_bool": {"action_type": "identify_issue", "issue": {**ISSUE, "line_number": True}},
    "issue_missing_severity": {"action_type": "identify_issue",
                               "issue": {k: v for k, v in ISSUE.items() if k != "severity"}},
    "issue_extra_key": {"action_type": "identify_issue", "issue": {**ISSUE, "colour": "red"}},
    "description_too_long": {"action_type": "identify_issue", "issue": {**ISSUE, "description": "x" * 2001}},
    "description_null": {"action_type": "identify_issue", "issue": {**ISSUE, "description": None}},
    "confidence_above_one": {"action_type": "request_hint", "confidence": 2},
    "confidence_negative": {"action_type": "request_hint", "confidence": -0.1},
    "confidence_bool": {"action_type": "request_hint", "confidence": True},
    "metadata_not_object": {"action_type": "request_hint", "metadata": []},
    "metadata_null": {"action_type": "request_hint", "metadata": None},
    "extra_key": {"action_type": "request_hint", "colour": "red"},
    "missing_action_type": {"metadata": {}},
    "identify_without_issue": {"action_type": "identify_issue", "metadata": {}},
    "identify_with_null_issue": {"action_type": "identify_issue", "issue": None, "metadata": {}},
}


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` in a JSON document."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def component(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    """A schema that validates against one OpenAPI component, its ``$ref``s resolved in the document."""
    return {"$ref": f"#/components/schemas/{name}", "components": openapi["components"]}


def assert_valid(schema: dict[str, Any], instance: Any) -> None:
    errors = sorted(Validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def assert_invalid(schema: dict[str, Any], instance: Any) -> None:
    assert not Validator(schema).is_valid(instance), f"schema accepts {instance!r}"


@pytest.fixture
def openapi(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def schemas(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get("/schema")
    assert response.status_code == 200
    return response.get_json()


# ---------------------------------------------------------------------- the documents


def test_openapi_document(openapi: dict[str, Any]) -> None:
    assert isinstance(openapi, dict) and openapi["openapi"].startswith("3.1")
    assert isinstance(openapi["info"], dict)
    assert isinstance(openapi["info"]["version"], str)
    assert openapi["info"]["version"] == app_package.__version__
    assert isinstance(openapi["info"]["title"], str) and openapi["info"]["title"]
    paths = openapi["paths"]
    assert isinstance(paths, dict) and paths
    for path in ("/reset", "/step", "/state", "/health", "/metadata", "/schema", "/mcp", "/tasks",
                 "/api/episodes/{episode_id}"):
        assert path in paths, path
    # OpenEnv's mode consistency: simulation mode lists all three of /reset, /step and /state.
    assert {"/reset", "/step", "/state"} <= paths.keys()
    assert set(paths["/reset"]) == {"post"} and set(paths["/step"]) == {"post"}
    assert set(paths["/state"]) == {"get"} and set(paths["/mcp"]) == {"post"}


def test_openapi_refs_resolve_and_components_are_valid_json_schema(openapi: dict[str, Any]) -> None:
    components = openapi["components"]["schemas"]
    found = list(refs(openapi))
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in components, ref
    for name in ("Action", "Issue", "ResetRequest", "StepRequest", "StepResponse", "Observation",
                 "State", "TaskList", "Health", "Metadata", "EpisodeDetail", "Error"):
        assert name in components, name
    for name in components:
        Validator.check_schema(component(openapi, name))


def test_openapi_request_contract_matches_behaviour(client, openapi: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    components = openapi["components"]["schemas"]
    step_request = components["StepRequest"]
    assert set(step_request["required"]) == {"session_id", "action"}
    assert step_request["properties"]["action"] == {"$ref": "#/components/schemas/Action"}
    assert components["Action"]["required"] == ["action_type"]
    assert set(components["Issue"]["required"]) == {"line_number", "issue_type", "severity"}
    assert not components["ResetRequest"].get("required")
    paths = openapi["paths"]
    # /reset's body is optional, and indeed /reset works without one
    assert paths["/reset"]["post"]["requestBody"]["required"] is False
    assert client.post("/reset").status_code == 200
    # /step's body is required, and each required key is enforced
    assert paths["/step"]["post"]["requestBody"]["required"] is True
    session_id = client.post("/reset", json={"session_id": "contract"}).get_json()["session_id"]
    assert client.post("/step").status_code == 422
    for key in ("session_id", "action"):
        body = {"session_id": session_id, "action": {"action_type": "request_hint"}}
        del body[key]
        response = client.post("/step", json=body)
        assert response.status_code == 422 and key in response.get_json()["error"]["fields"]
    # /state's session_id query parameter is required, and enforced
    [parameter] = paths["/state"]["get"]["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == ("session_id", "query", True)
    assert client.get("/state").status_code == 422
    # the error statuses documented for /step include the ones it produces
    assert {"404", "409", "422"} <= paths["/step"]["post"]["responses"].keys()


def test_metadata(client) -> None:  # type: ignore[no-untyped-def]
    metadata = client.get("/metadata")
    assert metadata.status_code == 200
    body = metadata.get_json()
    assert isinstance(body["name"], str) and body["name"]
    assert isinstance(body["description"], str) and body["description"]
    assert body["version"] == app_package.__version__


def test_schema_document(schemas: dict[str, Any]) -> None:
    for key in ("action", "observation", "state"):
        assert isinstance(schemas[key], dict) and schemas[key], key
        Validator.check_schema(schemas[key])
        assert schemas[key]["type"] == "object" and isinstance(schemas[key]["properties"], dict)
        assert "$ref" not in json.dumps(schemas[key])  # standalone: nested schemas are inlined
    assert schemas["action"]["required"] == ["action_type"]
    assert {"done", "reward"} <= set(schemas["observation"]["required"])
    assert {"episode_id", "step_count"} <= set(schemas["state"]["required"])


def test_health_and_tasks_replies_match_openapi(client, openapi: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    assert_valid(component(openapi, "Health"), client.get("/health").get_json())
    assert_valid(component(openapi, "TaskList"), client.get("/tasks").get_json())
    assert_valid(component(openapi, "Metadata"), client.get("/metadata").get_json())


# ---------------------------------------------------------------------- real traffic against /schema


@pytest.mark.parametrize("task", REGISTRY.names())
def test_reset_observation_validates(client, schemas, openapi, task: str) -> None:  # type: ignore[no-untyped-def]
    request = {"task": task, "session_id": f"reset-{task}", "seed": 7}
    assert_valid(component(openapi, "ResetRequest"), request)
    reply = client.post("/reset", json=request)
    assert reply.status_code == 200
    body = reply.get_json()
    assert_valid(component(openapi, "StepResponse"), body)
    assert_valid(schemas["observation"], body["observation"])
    # OpenEnv's runtime check validates observation ∪ {reward, done} against the same schema
    assert_valid(schemas["observation"], {**body["observation"], "reward": body["reward"], "done": body["done"]})


def test_real_episode_actions_observations_and_states_validate(client, schemas, openapi) -> None:  # type: ignore[no-untyped-def]
    session_id = client.post("/reset", json={"task": "syntax_check", "session_id": "traffic"}).get_json()["session_id"]
    state_schema, observation_schema = schemas["state"], schemas["observation"]
    state = client.get(f"/state?session_id={session_id}")
    assert state.status_code == 200
    assert_valid(state_schema, state.get_json())
    assert_valid(component(openapi, "State"), state.get_json())

    order = ["identify_minimal", "identify_full", "identify_null_options", "identify_false_positive",
             "hint", "hint_without_metadata", "submit"]
    assert set(order) == set(VALID_ACTIONS)
    for index, name in enumerate(order, start=1):
        action = VALID_ACTIONS[name]
        assert_valid(schemas["action"], action)
        request = {"session_id": session_id, "action": action}
        assert_valid(component(openapi, "StepRequest"), request)
        reply = client.post("/step", json=request)
        assert reply.status_code == 200, (name, reply.get_json())
        body = reply.get_json()
        assert_valid(component(openapi, "StepResponse"), body)
        assert_valid(observation_schema, body["observation"])
        assert_valid(observation_schema, {**body["observation"], "reward": body["reward"], "done": body["done"]})
        state = client.get(f"/state?session_id={session_id}").get_json()
        assert state["step_count"] == index
        assert_valid(state_schema, state)
        assert_valid(component(openapi, "State"), state)
    assert body["done"] is True and state["status"] == "finished"

    episode = client.get(f"/api/episodes/{body['episode_id']}").get_json()
    assert_valid(component(openapi, "EpisodeDetail"), episode)
    assert [step["action"]["action_type"] for step in episode["steps"]] == [
        VALID_ACTIONS[name]["action_type"] for name in order]


def test_real_error_replies_match_the_error_component(client, openapi) -> None:  # type: ignore[no-untyped-def]
    client.post("/reset", json={"session_id": "errors"})
    replies = [
        client.post("/step", json={"session_id": "errors", "action": INVALID_ACTIONS["line_number_zero"]}),
        client.post("/step", json={"session_id": "ghost", "action": {"action_type": "submit_review"}}),
        client.get("/api/episodes/ghost"),
    ]
    client.post("/step", json={"session_id": "errors", "action": {"action_type": "submit_review"}})
    replies.append(client.post("/step", json={"session_id": "errors", "action": {"action_type": "submit_review"}}))
    assert [reply.status_code for reply in replies] == [422, 404, 404, 409]
    for reply in replies:
        assert_valid(component(openapi, "Error"), reply.get_json())


# ---------------------------------------------------------------------- schema and server agree


@pytest.mark.parametrize("name", sorted(INVALID_ACTIONS))
def test_rejected_actions_do_not_validate(client, schemas, openapi, name: str) -> None:  # type: ignore[no-untyped-def]
    """The action schema is not vacuous: every action the server rejects fails it too."""
    action = INVALID_ACTIONS[name]
    session_id = client.post("/reset", json={"session_id": f"bad-{name}"[:128]}).get_json()["session_id"]
    reply = client.post("/step", json={"session_id": session_id, "action": action})
    assert reply.status_code == 422, reply.get_json()
    assert client.get(f"/state?session_id={session_id}").get_json()["step_count"] == 0
    assert_invalid(schemas["action"], action)
    assert_invalid(component(openapi, "Action"), action)
    assert_invalid(component(openapi, "StepRequest"), {"session_id": session_id, "action": action})


@pytest.mark.parametrize("request_body", [
    {"action": {"action_type": "request_hint"}},
    {"session_id": "", "action": {"action_type": "request_hint"}},
    {"session_id": "agree", "action": {"action_type": "request_hint"}, "colour": "red"},
    {"session_id": "agree", "action": "request_hint"},
    {"session_id": 5, "action": {"action_type": "request_hint"}},
])
def test_rejected_step_requests_do_not_validate(client, openapi, request_body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    client.post("/reset", json={"session_id": "agree"})
    assert client.post("/step", json=request_body).status_code == 422
    assert_invalid(component(openapi, "StepRequest"), request_body)


@pytest.mark.parametrize("request_body", [
    {"seed": -1}, {"seed": "seven"}, {"seed": True}, {"split": "private"}, {"split": None},
    {"episode_id": ""}, {"colour": "red"},
])
def test_rejected_reset_requests_do_not_validate(client, openapi, request_body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/reset", json=request_body).status_code == 422
    assert_invalid(component(openapi, "ResetRequest"), request_body)


def test_accepted_reset_requests_validate(client, openapi) -> None:  # type: ignore[no-untyped-def]
    for body in ({}, {"task": None, "seed": None}, {"task": "security_audit", "seed": 0, "split": "test",
                                                     "episode_id": "ep-x", "agent": "a", "model": "m"}):
        assert_valid(component(openapi, "ResetRequest"), body)
        assert client.post("/reset", json=body).status_code == 200
