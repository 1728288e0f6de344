"""The Python client against gunicorn, over both transports; and the README's client examples."""

from __future__ import annotations

import re
import threading

import pytest
import requests

from app.client import (
    ClientError,
    CodeReviewerClient,
    ConflictError,
    NotFoundError,
    ServerUnavailable,
    StepResult,
    ValidationError,
    error_from_wire,
    websocket_url,
)
from app.env import CodeReviewerObservation, ReviewResult, load_registry

from conftest import ROOT, SUBMIT, LiveServer, free_port, report

# The episode a server serves for these arguments is the engine's (a public split: no episode
# secret in it): compare against it.
SEEDED = load_registry().episode("syntax_check", seed=7, split="validation")
TRANSPORTS = ["http", "ws"]


@pytest.fixture(params=TRANSPORTS)
def reviewer(request: pytest.FixtureRequest, live_server: LiveServer):  # type: ignore[no-untyped-def]
    with CodeReviewerClient(live_server.url, transport=request.param, timeout=15) as connected:
        yield connected


def test_whole_episode_is_typed_and_stored_with_its_labels(reviewer: CodeReviewerClient, live_server: LiveServer) -> None:
    first = reviewer.reset(task="syntax_check", seed=7, split="validation", agent="tester", model="tester-v1")
    assert isinstance(first, StepResult) and isinstance(first.observation, CodeReviewerObservation)
    assert first.reward is None and first.done is False
    assert first.observation.code_snippet.code == SEEDED.snippet.code
    assert first.metadata == {"task": "syntax_check", "seed": 7, "split": "validation"}
    assert first.session_id == reviewer.session_id

    rewards = []
    for index, planted in enumerate(SEEDED.issues):
        action = report(planted.line_number, planted.issue_type, planted.severity)
        # Typed actions and their JSON form are both accepted.
        step = reviewer.step(action if index % 2 else action.to_dict())
        assert step.episode_id == first.episode_id and step.observation.step_number == index + 1
        assert step.observation.previous_issues[-1] == action.issue
        rewards.append(step.reward)
    assert rewards == [planted.severity.value_points for planted in SEEDED.issues]
    assert step.metadata["reward_breakdown"] == {"issue_found": rewards[-1]}

    state = reviewer.state()
    assert (state["episode_id"], state["step_count"], state["status"]) == (first.episode_id, len(rewards), "running")
    running = reviewer.result()
    assert isinstance(running, ReviewResult) and running.done is False and running.missed_issues == []

    final = reviewer.step(SUBMIT)
    assert final.done is True and final.observation.done is True
    result = reviewer.result()
    assert (result.completion_score, result.success, result.found) == (1.0, True, len(SEEDED.issues))
    assert [issue.id for issue in result.matched_issues] == [issue.id for issue in SEEDED.issues]

    history = requests.get(f"{live_server.url}/api/episodes/{first.episode_id}", timeout=10).json()
    assert (history["agent"], history["model"], history["split"], history["seed"]) == ("tester", "tester-v1", "validation", 7)
    assert history["status"] == "finished" and len(history["steps"]) == len(SEEDED.issues) + 1


def test_both_transports_give_the_same_results(live_server: LiveServer) -> None:
    def play(transport: str) -> list[tuple]:
        with CodeReviewerClient(live_server.url, transport=transport) as reviewer:
            outcomes = [reviewer.reset(task="logic_bug_detection", seed=3)]
            for line in (48, 48, 79, 89):
                outcomes.append(reviewer.step(report(line, "logic_bug")))
            outcomes.append(reviewer.step(SUBMIT))
            final = reviewer.result()
        return [(o.reward, o.done, o.observation.feedback, o.observation.info["issues_found"], o.metadata)
                for o in outcomes] + [(final.completion_score, final.false_positives, final.duplicates)]

    assert play("http") == play("ws")


def test_a_new_reset_starts_a_new_episode_in_the_same_session(reviewer: CodeReviewerClient) -> None:
    first = reviewer.reset(task="security_audit")
    second = reviewer.reset(task="syntax_check", episode_id=f"again-{reviewer.transport}")
    assert second.session_id == first.session_id and second.episode_id == f"again-{reviewer.transport}"
    assert reviewer.state()["task"] == "syntax_check"


def test_validation_errors_are_422_with_fields(reviewer: CodeReviewerClient) -> None:
    with pytest.raises(ValidationError) as unknown_task:
        reviewer.reset(task="no_such_task")
    assert unknown_task.value.status == 422 and unknown_task.value.code == "VALIDATION_ERROR"
    assert "syntax_check" in unknown_task.value.message and "task" in unknown_task.value.fields
    reviewer.reset(task="syntax_check")
    with pytest.raises(ValidationError) as bad_action:
        reviewer.step({"action_type": "identify_issue", "issue": {"line_number": 0, "issue_type": "syntax_error",
                                                                "severity": "high"}})
    assert "issue" in str(bad_action.value.fields)  # REST nests it under "action"
    with pytest.raises(ValidationError):
        reviewer.reset(split="holdout")
    assert reviewer.state()["step_count"] == 0


def test_conflicts_are_409(reviewer: CodeReviewerClient) -> None:
    reviewer.reset(task="syntax_check", episode_id=f"taken-{reviewer.transport}")
    reviewer.step(SUBMIT)
    with pytest.raises(ConflictError) as finished:
        reviewer.step(SUBMIT)
    assert finished.value.status == 409 and finished.value.code == "CONFLICT"
    with pytest.raises(ConflictError):
        reviewer.reset(task="syntax_check", episode_id=f"taken-{reviewer.transport}")


def test_unknown_session_is_404(live_server: LiveServer) -> None:
    with CodeReviewerClient(live_server.url, session_id="never-created") as reviewer:
        with pytest.raises(NotFoundError) as missing:
            reviewer.state()
        assert missing.value.status == 404 and missing.value.code == "NOT_FOUND"
        with pytest.raises(NotFoundError):
            reviewer.step(SUBMIT)


def test_a_session_started_elsewhere_can_be_continued(live_server: LiveServer) -> None:
    requests.post(f"{live_server.url}/reset", json={"session_id": "from-curl", "task": "security_audit"}, timeout=10)
    with CodeReviewerClient(live_server.url, session_id="from-curl") as reviewer:
        assert reviewer.step(report(41, "security_vulnerability")).reward == 0.5
        assert reviewer.result().found == 1


def test_calls_before_a_reset_fail_in_the_client(reviewer: CodeReviewerClient) -> None:
    for call in (lambda: reviewer.step(SUBMIT), reviewer.state, reviewer.result):
        with pytest.raises(ClientError, match="call reset"):
            call()


@pytest.mark.parametrize("frame, expected", [
    ({"code": "EXECUTION_ERROR", "status": 404, "reason": "NOT_FOUND", "message": "unknown session"}, NotFoundError),
    ({"code": "EXECUTION_ERROR", "status": 409, "reason": "CONFLICT", "message": "finished"}, ConflictError),
    ({"code": "EXECUTION_ERROR", "status": 503, "reason": "SERVICE_UNAVAILABLE", "message": "retry"}, ServerUnavailable),
])
def test_error_frames_map_to_the_same_exceptions_as_statuses(frame: dict, expected: type) -> None:
    # Over a socket these carry the HTTP-equivalent status; the client raises as for REST.
    error = error_from_wire(frame["status"], frame)
    assert type(error) is expected and error.code == frame["reason"] and error.message == frame["message"]


def test_an_unreachable_server_raises_server_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with CodeReviewerClient(url, timeout=2) as reviewer:
        with pytest.raises(ServerUnavailable) as refused:
            reviewer.reset()
        assert refused.value.status is None and refused.value.code == "CONNECTION_ERROR"
    with pytest.raises(ServerUnavailable):
        CodeReviewerClient(url, transport="ws", timeout=2)
    with pytest.raises(ValueError, match="http, ws"):
        CodeReviewerClient(url, transport="grpc")


def test_a_closed_socket_is_not_reopened(live_server: LiveServer) -> None:
    reviewer = CodeReviewerClient(live_server.url, transport="ws")
    reviewer.reset(task="syntax_check")
    reviewer.close()
    with pytest.raises(ServerUnavailable, match="closed"):
        reviewer.state()
    reviewer.close()


def test_websocket_url() -> None:
    assert websocket_url("http://host:7860/") == "ws://host:7860/ws"
    assert websocket_url("https://example.org/env") == "wss://example.org/env/ws"


def test_threads_sharing_one_client_are_serialised(reviewer: CodeReviewerClient) -> None:
    reviewer.reset(task="security_audit")
    step_numbers: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def reviewer_thread(offset: int) -> None:
        start.wait()
        try:
            for line in range(3):
                # False positives on distinct lines: every step is valid, none is a duplicate.
                step = reviewer.step(report(1 + offset * 3 + line, "security_vulnerability", "low"))
                step_numbers.append(step.observation.step_number)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=reviewer_thread, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(step_numbers) == list(range(1, 13))
    assert reviewer.state()["step_count"] == 12 and reviewer.result().false_positives == 12


# ---------------------------------------------------------------------- README examples


def readme_example(marker: str) -> str:
    """The README's python block containing ``marker``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [block for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL) if marker in block]
    assert blocks, f"README.md has no python example using {marker}"
    return blocks[0]


@pytest.mark.parametrize("marker", ["CodeReviewerClient(", "GenericEnvClient("])
def test_readme_client_examples_run_as_written(marker: str, live_server: LiveServer,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = readme_example(marker).replace("http://localhost:7860", live_server.url)
    exec(compile(code, f"README.md ({marker})", "exec"), {})
    assert capsys.readouterr().out.strip()
