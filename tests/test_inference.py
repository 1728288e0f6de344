"""scripts/inference.py against a fake OpenAI-compatible server started here (never the internet)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Optional

import pytest
import requests

from app.env import PlantedIssue, load_registry

from conftest import ROOT, LiveServer, free_port

SCRIPT = ROOT / "scripts" / "inference.py"
SYNTAX = load_registry().get("syntax_check")
ISSUES = SYNTAX.canonical.issues

# The original environment's log format, written out independently of the script.
START_LINE = re.compile(r"\[START\] task=(?P<task>\S+) env=code-reviewer-env model=(?P<model>\S+)")
STEP_LINE = re.compile(
    r"\[STEP\] step=(?P<step>\d+) "
    r"action=(?P<action>identify_issue\(line=\d+,type=(?:syntax_error|logic_bug|security_vulnerability)\)"
    r"|request_hint|submit_review) "
    r"reward=(?P<reward>-?\d+\.\d\d) done=(?P<done>true|false) error=(?P<error>null|[^\s]+)"
)
END_LINE = re.compile(
    r"\[END\] success=(?P<success>true|false) steps=(?P<steps>\d+) "
    r"rewards=(?P<rewards>(?:-?\d+\.\d\d(?:,-?\d+\.\d\d)*)?)"
)


def report(issue: PlantedIssue, fenced: bool = False) -> str:
    reply = json.dumps({"action_type": "identify_issue", "confidence": 0.9, "issue": {
        "line_number": issue.line_number, "issue_type": issue.issue_type.value,
        "severity": issue.severity.value, "description": issue.description, "suggested_fix": issue.fix}})
    return f"```json\n{reply}\n```" if fenced else reply


SUBMIT = json.dumps({"action_type": "submit_review"})
NOT_JSON = "I think line 29 is missing a colon."
NO_ACTION_TYPE = json.dumps({"issue": {"line_number": 57, "issue_type": "syntax_error", "severity": "high"}})
LINE_ZERO = json.dumps({"action_type": "identify_issue", "issue": {
    "line_number": 0, "issue_type": "syntax_error", "severity": "high", "description": "?"}})


class FakeChatServer:
    """``POST /v1/chat/completions`` answering canned replies in order, recording each request.

    A reply is the assistant's text, or ``(status, body)`` for an HTTP error. After the last
    canned reply every answer is a submit.
    """

    def __init__(self, replies: list[Any]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                                        "body": body})
                reply = server.replies.pop(0) if server.replies else SUBMIT
                if isinstance(reply, tuple):
                    status, payload = reply
                else:
                    status, payload = 200, {
                        "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion", "created": 0,
                        "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                if self.path != "/v1/chat/completions":
                    status, payload = 404, {"error": {"message": "not found"}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def fake_model() -> Iterator[callable]:
    servers: list[FakeChatServer] = []

    def start(replies: list[Any]) -> FakeChatServer:
        servers.append(FakeChatServer(replies))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def run_inference(model: FakeChatServer, task: str = "syntax_check",
                  env_url: Optional[str] = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "ENV_URL"}
    env.update(API_BASE_URL=model.url, MODEL_NAME="test-model", HF_TOKEN="dummy",
               CODE_REVIEWER_TASK=task, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    if env_url:
        env["ENV_URL"] = env_url
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def parse_log(stdout: str) -> tuple[re.Match, list[re.Match], re.Match]:
    """Check the line grammar and the consistency rules; return (start, steps, end)."""
    lines = stdout.splitlines()
    assert lines, "no output"
    for line in lines:
        assert any(p.fullmatch(line) for p in (START_LINE, STEP_LINE, END_LINE)), f"bad log line: {line!r}"
    start, end = START_LINE.fullmatch(lines[0]), END_LINE.fullmatch(lines[-1])
    assert start and end, lines
    steps = [STEP_LINE.fullmatch(line) for line in lines[1:-1]]
    assert all(steps), lines
    assert [int(step["step"]) for step in steps] == list(range(1, len(steps) + 1))
    assert int(end["steps"]) == len(steps)
    assert end["rewards"].split(",") == [step["reward"] for step in steps]
    assert [step["done"] for step in steps] == ["false"] * (len(steps) - 1) + ["true"]
    return start, steps, end


def points(issue: PlantedIssue) -> float:
    return issue.severity.value_points


# Correct reports with three malformed replies among them, a duplicate, then a submit.
MIXED_REPLIES = [report(ISSUES[0]), NOT_JSON, report(ISSUES[1], fenced=True), NO_ACTION_TYPE, LINE_ZERO,
                 *(report(issue) for issue in ISSUES[2:]), report(ISSUES[0]), SUBMIT]


def expected_mixed_log() -> list[tuple[str, float, str]]:
    def found(issue: PlantedIssue) -> tuple[str, float, str]:
        return f"identify_issue(line={issue.line_number},type=syntax_error)", points(issue), "null"

    hint = ("request_hint", -0.05, "invalid_reply")
    rows = [found(ISSUES[0]), hint, found(ISSUES[1]), hint, hint, *(found(i) for i in ISSUES[2:])]
    rows.append((found(ISSUES[0])[0], -0.15, "null"))
    # 7 true reports out of 8, every issue found, 3 hints: 0.933 - 0.15 >= 0.70 succeeds.
    unused = SYNTAX.max_steps - (len(rows) + 1)
    rows.append(("submit_review", 0.5 + 0.02 * unused, "null"))
    return rows


def check_mixed_run(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr
    start, steps, end = parse_log(result.stdout)
    assert start["task"] == "syntax_check" and start["model"] == "test-model"
    assert [(s["action"], s["reward"], s["error"]) for s in steps] == [
        (action, f"{reward:.2f}", error) for action, reward, error in expected_mixed_log()]
    assert end["success"] == "true"
    assert "invalid replies: 3" in result.stderr


def test_mixed_replies_are_logged_counted_and_scored(fake_model: callable) -> None:
    model = fake_model(MIXED_REPLIES)
    result = run_inference(model)
    check_mixed_run(result)

    assert len(model.requests) == len(expected_mixed_log())
    first = model.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["authorization"] == "Bearer dummy"
    assert first["body"]["model"] == "test-model"
    assert first["body"]["temperature"] == 0
    assert 0 < first["body"]["max_tokens"] <= 1000
    prompt = "\n".join(message["content"] for message in first["body"]["messages"])
    for number, text in enumerate(SYNTAX.canonical.snippet.code.splitlines(), start=1):
        assert f"{number:>3} | {text}" in prompt
    assert SYNTAX.description in prompt
    # Later prompts carry the previous reports with their feedback, and why a reply was refused.
    later = model.requests[2]["body"]["messages"][-1]["content"]
    assert f"Correct: syntax_error on line {ISSUES[0].line_number}" in later
    assert "your reply was invalid (not JSON" in later
    last = model.requests[-1]["body"]["messages"][-1]["content"]
    assert "issue.line_number must be >= 1" in last
    assert f"Already reported: syntax_error on line {ISSUES[0].line_number}" in last


def test_three_invalid_replies_in_a_row_submit_the_review(fake_model: callable) -> None:
    model = fake_model([report(ISSUES[0]), NOT_JSON, "[]", "", report(ISSUES[1])])
    result = run_inference(model)
    assert result.returncode == 0, result.stderr
    _, steps, end = parse_log(result.stdout)
    assert [(s["action"], s["error"]) for s in steps] == [
        (f"identify_issue(line={ISSUES[0].line_number},type=syntax_error)", "null"),
        ("request_hint", "invalid_reply"), ("request_hint", "invalid_reply"),
        ("submit_review", "invalid_reply")]
    assert end["success"] == "false"
    assert len(model.requests) == 4


def test_a_failed_request_is_an_api_error_not_a_crash(fake_model: callable) -> None:
    model = fake_model([(400, {"error": {"message": "bad request", "type": "invalid_request_error"}}),
                        report(ISSUES[0])])
    result = run_inference(model)
    assert result.returncode == 0, result.stderr
    _, steps, end = parse_log(result.stdout)
    assert (steps[0]["action"], steps[0]["reward"], steps[0]["error"]) == ("request_hint", "-0.05", "api_error")
    assert steps[1]["reward"] == f"{points(ISSUES[0]):.2f}" and steps[1]["error"] == "null"
    assert steps[-1]["action"] == "submit_review"
    assert end["success"] == "false"


def test_other_tasks_are_chosen_by_the_environment_variable(fake_model: callable) -> None:
    issue = load_registry().get("security_audit").canonical.issues[0]
    model = fake_model([report(issue)])
    result = run_inference(model, task="security_audit")
    assert result.returncode == 0, result.stderr
    start, steps, _ = parse_log(result.stdout)
    assert start["task"] == "security_audit"
    assert steps[0]["action"] == f"identify_issue(line={issue.line_number},type=security_vulnerability)"
    assert steps[0]["reward"] == f"{points(issue):.2f}"


def test_an_unknown_task_is_a_configuration_error(fake_model: callable) -> None:
    result = run_inference(fake_model([]), task="no_such_task")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "valid tasks" in result.stderr


def test_against_a_live_server_the_log_and_rewards_are_the_same(fake_model: callable,
                                                                live_server: LiveServer) -> None:
    model = fake_model(MIXED_REPLIES)
    check_mixed_run(run_inference(model, env_url=live_server.url))
    # The episode is recorded under the agent and model names, step by step.
    listing = requests.get(f"{live_server.url}/api/episodes", params={"agent": "llm", "model": "test-model"},
                           timeout=10).json()
    assert listing["total"] == 1
    history = requests.get(f"{live_server.url}/api/episodes/{listing['items'][0]['id']}", timeout=10).json()
    assert [step["reward"] for step in history["steps"]] == pytest.approx(
        [reward for _, reward, _ in expected_mixed_log()])
    assert history["result"]["success"] is True


def test_an_unreachable_server_ends_the_log_with_failure(fake_model: callable) -> None:
    result = run_inference(fake_model([]), env_url=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert START_LINE.fullmatch(lines[0])
    assert lines[1:] == ["[END] success=false steps=0 rewards="]


def test_a_missing_api_key_is_a_configuration_error(fake_model: callable) -> None:
    model = fake_model([])
    env = {key: value for key, value in os.environ.items() if key not in ("ENV_URL", "HF_TOKEN")}
    env.update(API_BASE_URL=model.url, MODEL_NAME="test-model")
    result = subprocess.run([sys.executable, str(SCRIPT)], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert "HF_TOKEN" in result.stderr
    assert model.requests == []


@pytest.mark.parametrize("reply, accepted", [
    ('{"action_type": "submit_review"}', True),
    ('  ```json\n{"action_type": "request_hint"}\n```  ', True),
    ('```\n{"action_type": "request_hint"}\n```', True),
    ('Here is my action: {"action_type": "submit_review"}', False),
    ('{"action_type": "submit_review"} and more', False),
    ('```json\n{"action_type": "submit_review"}\n```\n```json\n{"action_type": "request_hint"}\n```', False),
    ('{"action_type": "identify_issue"}', False),
    (json.dumps({"action_type": "identify_issue",
                 "issue": {"line_number": "5", "issue_type": "syntax_error", "severity": "high"}}), False),
    ('{"action_type": "request_hint", "confidence": 2}', False),
    ('[{"action_type": "submit_review"}]', False),
])
def test_replies_are_parsed_strictly(reply: str, accepted: bool) -> None:
    from app.agents.llm import InvalidReply, parse_action

    if accepted:
        assert parse_action(reply).action_type.value in ("submit_review", "request_hint")
    else:
        with pytest.raises(InvalidReply):
            parse_action(reply)


def test_an_unreachable_model_api_is_a_failed_run(fake_model: callable) -> None:
    """The episode ends on the agent's fallback actions, and the run says it failed (exit 1)."""
    model = fake_model([])
    model.url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    result = run_inference(model)
    assert result.returncode == 1, result.stderr
    assert "every request to the model API failed" in result.stderr
    start, steps, end = parse_log(result.stdout)
    assert steps and all(step["error"] == "api_error" for step in steps)  # each the fallback of a failed request
