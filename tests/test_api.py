"""REST API through the Flask test client, on SQLite and Postgres."""

from __future__ import annotations

import pytest

from app import create_app
from app.env import load_registry

SYNTAX = load_registry().get("syntax_check").canonical
FIRST = SYNTAX.issues[0]


def identify(session_id: str, line: int, issue_type: str = "syntax_error", **extra):  # type: ignore[no-untyped-def]
    return {"session_id": session_id, "action": {"action_type": "identify_issue", **extra, "issue": {
        "line_number": line, "issue_type": issue_type, "severity": "high", "description": "Missing colon"}}}


def test_original_curl_calls_work_verbatim(client) -> None:  # type: ignore[no-untyped-def]
    reset = client.post("/reset", json={"task": "syntax_check", "session_id": "demo"})
    assert reset.status_code == 200
    body = reset.get_json()
    assert list(body)[:5] == ["observation", "reward", "done", "session_id", "episode_id"]
    assert body["reward"] is None and body["done"] is False and body["session_id"] == "demo"
    assert body["observation"]["code_snippet"]["code"] == SYNTAX.snippet.code
    step = client.post("/step", json=identify("demo", 5))
    assert step.status_code == 200 and step.get_json()["reward"] == -0.15
    step = client.post("/step", json=identify("demo", FIRST.line_number))
    assert step.get_json()["reward"] == 0.4
    assert step.get_json()["metadata"]["reward_breakdown"] == {"issue_found": 0.4}
    final = client.post("/step", json={"session_id": "demo", "action": {"action_type": "submit_review"}})
    assert final.status_code == 200 and final.get_json()["done"] is True


def test_state_and_history(client) -> None:  # type: ignore[no-untyped-def]
    episode_id = client.post("/reset", json={"task": "syntax_check", "session_id": "s1", "seed": 4,
                                             "episode_id": "ep-state", "agent": "tester",
                                             "model": "m-1"}).get_json()["episode_id"]
    assert episode_id == "ep-state"
    planted = load_registry().episode("syntax_check", seed=4).issues[0]
    client.post("/step", json=identify("s1", planted.line_number, confidence=0.8))
    state = client.get("/state?session_id=s1").get_json()
    assert state["episode_id"] == "ep-state" and state["step_count"] == 1
    assert state["status"] == "running" and state["observation"]["step_number"] == 1
    history = client.get("/api/episodes/ep-state").get_json()
    assert history["planted_issues"] is None  # never while running
    assert [s["index"] for s in history["steps"]] == [1]
    assert history["steps"][0]["action"]["confidence"] == 0.8
    assert (history["agent"], history["model"], history["seed"]) == ("tester", "m-1", 4)
    client.post("/step", json={"session_id": "s1", "action": {"action_type": "submit_review"}})
    history = client.get("/api/episodes/ep-state").get_json()
    assert history["status"] == "finished" and len(history["planted_issues"]) == 7
    assert history["result"]["found"] == 1 and history["completion_score"] == history["result"]["completion_score"]
    assert [s["index"] for s in history["steps"]] == [1, 2]


def test_reset_without_body_uses_defaults_and_makes_a_session(client) -> None:  # type: ignore[no-untyped-def]
    body = client.post("/reset").get_json()
    assert body["session_id"] and body["observation"]["task_name"] == "syntax_check"


def test_new_reset_abandons_the_running_episode(client) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/reset", json={"session_id": "s2"}).get_json()["episode_id"]
    client.post("/reset", json={"session_id": "s2", "task": "security_audit"})
    assert client.get(f"/api/episodes/{first}").get_json()["status"] == "abandoned"


@pytest.mark.parametrize("payload, field", [
    ({"session_id": "v", "action": {"action_type": "identify_issue"}}, "issue"),
    ({"session_id": "v", "action": {"action_type": "identify_issue", "issue": {
        "line_number": 0, "issue_type": "syntax_error", "severity": "high"}}}, "line_number"),
    ({"session_id": "v", "action": {"action_type": "request_hint", "confidence": 2}}, "confidence"),
    ({"session_id": "v", "action": {"action_type": "identify_issue", "issue": {
        "line_number": 3, "issue_type": "syntax_error", "severity": "high", "description": "x" * 2001}}}, "description"),
    ({"session_id": "v", "action": {"action_type": "request_hint", "colour": "red"}}, "colour"),
    ({"action": {"action_type": "request_hint"}}, "session_id"),
])
def test_schema_errors_are_422_with_fields_and_change_nothing(client, payload, field) -> None:  # type: ignore[no-untyped-def]
    client.post("/reset", json={"session_id": "v"})
    response = client.post("/step", json=payload)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in str(error["fields"])
    assert client.get("/state?session_id=v").get_json()["step_count"] == 0


def test_unknown_task_is_422_naming_the_valid_ones(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/reset", json={"task": "style_check"})
    assert response.status_code == 422
    assert "security_audit" in response.get_json()["error"]["message"]
    assert "task" in response.get_json()["error"]["fields"]


def test_unknown_ids_are_404(client) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/step", json={"session_id": "ghost", "action": {"action_type": "submit_review"}}).status_code == 404
    assert client.get("/state?session_id=ghost").status_code == 404
    assert client.get("/api/episodes/ghost").get_json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/no/such/page").status_code == 404


def test_finished_episode_is_409(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/reset", json={"session_id": "f"})
    client.post("/step", json={"session_id": "f", "action": {"action_type": "submit_review"}})
    response = client.post("/step", json={"session_id": "f", "action": {"action_type": "submit_review"}})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "CONFLICT"


def test_episode_id_taken_is_409(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/reset", json={"episode_id": "dup"})
    assert client.post("/reset", json={"episode_id": "dup"}).status_code == 409


def test_body_limit_is_413_and_bad_bodies_are_422(client) -> None:  # type: ignore[no-untyped-def]
    big = client.post("/step", data="x" * (65 * 1024), content_type="application/json")
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert client.post("/step", data="{not json", content_type="application/json").status_code == 422
    assert client.post("/step", json=[1, 2]).status_code == 422
    assert client.post("/reset", json={"seed": "seven"}).status_code == 422
    assert client.post("/reset", json={"seed": -1}).status_code == 422
    assert client.get("/state").status_code == 422
    assert client.delete("/reset").status_code == 405


def test_tasks_health_metadata(client) -> None:  # type: ignore[no-untyped-def]
    tasks = client.get("/tasks").get_json()["tasks"]
    assert [(t["name"], t["expected_issue_count"], t["max_steps"], t["success_threshold"]) for t in tasks] == [
        ("syntax_check", 7, 15, 0.7), ("logic_bug_detection", 3, 18, 0.7), ("security_audit", 9, 25, 0.7),
        ("full_review", 6, 20, 0.7), ("pr_review", None, 20, 0.7)]
    assert all(set(t["split_sizes"]) == {"train", "validation", "test", "holdout"} for t in tasks)
    assert all(t["split_sizes"]["holdout"] == 0 for t in tasks)  # no hold-out directory configured
    health = client.get("/health").get_json()
    assert health["status"] == "healthy"
    assert client.get("/metadata").get_json()["name"] == "code-reviewer-env"
    assert b"/openapi.json" in client.get("/").data


def test_health_is_503_when_the_database_is_unreachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    client = app.test_client()
    response = client.get("/health")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    reset = client.post("/reset", json={})
    assert reset.status_code == 503 and "Traceback" not in reset.get_data(as_text=True)
