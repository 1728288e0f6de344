"""The service under gunicorn: OpenEnv's own checker and client, several workers, races."""

from __future__ import annotations

import json

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests

from app.env import load_registry

from conftest import LiveServer, create_postgres_database, migrate, require_postgres

SYNTAX = load_registry().get("syntax_check").canonical
OPENENV = str(Path(sys.executable).parent / "openenv")


def test_openenv_validate_passes(live_server: LiveServer) -> None:
    result = subprocess.run([OPENENV, "validate", "--url", live_server.url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verdict: PASS" in result.stdout


def test_generic_env_client_plays_whole_episodes(live_server: LiveServer) -> None:
    from openenv.core.generic_client import GenericEnvClient

    with GenericEnvClient(base_url=live_server.url).sync() as client:
        for episode in range(2):
            first = client.reset(task="syntax_check", seed=episode, episode_id=f"generic-{episode}")
            seeded = load_registry().episode("syntax_check", seed=episode)
            assert first.reward is None and first.done is False
            assert first.observation["code_snippet"]["code"] == seeded.snippet.code
            for issue in seeded.issues:
                result = client.step({"action_type": "identify_issue", "metadata": {}, "issue": {
                    "line_number": issue.line_number, "issue_type": "syntax_error",
                    "severity": issue.severity.value, "description": "found"}})
                assert result.reward == issue.severity.value_points
            final = client.step({"action_type": "submit_review", "metadata": {}})
            assert final.done is True
            state = client.state()
            assert state["episode_id"] == f"generic-{episode}"
            assert state["step_count"] == len(seeded.issues) + 1
            with pytest.raises(RuntimeError, match="EXECUTION_ERROR"):
                client.step({"action_type": "submit_review", "metadata": {}})
    history = requests.get(f"{live_server.url}/api/episodes/generic-1", timeout=10).json()
    assert history["result"]["completion_score"] == 1.0


def step_fresh_connection(url: str, payload: dict) -> requests.Response:
    # A new connection per request, so the kernel may hand it to any worker.
    with requests.Session() as http:
        return http.post(f"{url}/step", json=payload, timeout=30)


def test_consecutive_steps_on_different_workers_keep_the_history_whole(live_server: LiveServer) -> None:
    workers: set[str] = set()
    episodes = 0
    while len(workers) < 2 and episodes < 40:
        episodes += 1
        session_id = f"spread-{episodes}"
        requests.post(f"{live_server.url}/reset", json={"session_id": session_id}, timeout=30)
        workers = set()
        for line in range(1, 15):
            payload = {"session_id": session_id, "action": {"action_type": "identify_issue", "issue": {
                "line_number": line, "issue_type": "syntax_error", "severity": "low"}}}
            response = step_fresh_connection(live_server.url, payload)
            assert response.status_code == 200
            workers.add(response.headers["X-Served-By"])
    assert len(workers) >= 2, "every step landed on one worker"
    state = requests.get(f"{live_server.url}/state", params={"session_id": session_id}, timeout=10).json()
    history = requests.get(f"{live_server.url}/api/episodes/{state['episode_id']}", timeout=10).json()
    assert [step["index"] for step in history["steps"]] == list(range(1, 15))
    assert [step["action"]["issue"]["line_number"] for step in history["steps"]] == list(range(1, 15))


def race(url: str, session_id: str, contenders: int, **options: object) -> list[requests.Response]:
    """``contenders`` steps sent at once on one session (each reports its own line), with
    ``options`` (``expected_step``, ``request_id``; ``same_action`` makes every step one action)."""
    barrier = threading.Barrier(contenders)
    replies: list[requests.Response] = []
    lock = threading.Lock()
    same_action = options.pop("same_action", False)

    def contend(line: int) -> None:
        payload = {"session_id": session_id, **options, "action": {"action_type": "identify_issue", "issue": {
            "line_number": 1 if same_action else line, "issue_type": "syntax_error", "severity": "low"}}}
        barrier.wait(timeout=30)
        reply = step_fresh_connection(url, payload)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=contend, args=(n + 1,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(replies) == contenders
    return replies


def recorded_lines(server: LiveServer, episode_id: str) -> list[int]:
    history = requests.get(f"{server.url}/api/episodes/{episode_id}", timeout=10).json()
    assert [step["index"] for step in history["steps"]] == list(range(1, history["step_count"] + 1))
    return [step["action"]["issue"]["line_number"] for step in history["steps"]]


def check_race(server: LiveServer, rounds: int = 4, contenders: int = 6) -> None:
    """The concurrency contract of a step (``stepping.step_session``) under real concurrency."""
    for round_number in range(rounds):
        def reset(kind: str) -> tuple[str, str]:
            session_id = f"race-{kind}-{round_number}"
            reply = requests.post(f"{server.url}/reset", json={"session_id": session_id}, timeout=30).json()
            return session_id, reply["episode_id"]

        # Without expected_step: every step is applied, once each, one after the other.
        session_id, episode_id = reset("plain")
        replies = race(server.url, session_id, contenders)
        assert [reply.status_code for reply in replies] == [200] * contenders, replies[0].text
        assert sorted(recorded_lines(server, episode_id)) == list(range(1, contenders + 1))

        # Different steps that all expect to be step 1: one is applied, the others get 409.
        session_id, episode_id = reset("expected")
        statuses = Counter(reply.status_code for reply in race(server.url, session_id, contenders, expected_step=1))
        assert statuses == Counter({200: 1, 409: contenders - 1}), statuses
        assert len(recorded_lines(server, episode_id)) == 1

        # One step retried at once (its request id, or its expected index, and its action):
        # applied once; every other copy gets the stored reply, marked replayed.
        for kind, options in (("request", {"request_id": f"r-{round_number}"}), ("index", {"expected_step": 1})):
            session_id, episode_id = reset(kind)
            replies = race(server.url, session_id, contenders, same_action=True, **options)
            assert [reply.status_code for reply in replies] == [200] * contenders, [r.text for r in replies][:2]
            replayed = [reply.json().get("metadata", {}).get("replayed", False) for reply in replies]
            assert replayed.count(True) == contenders - 1, replayed
            bodies = {json.dumps({key: reply.json()[key] for key in ("observation", "reward", "done")}, sort_keys=True)
                      for reply in replies}
            assert len(bodies) == 1, "a replayed reply differs from the applied step's"
            assert recorded_lines(server, episode_id) == [1]


def test_racing_steps_on_sqlite_follow_the_contract(live_server: LiveServer) -> None:
    check_race(live_server)


def test_racing_steps_on_postgres_follow_the_contract() -> None:
    require_postgres()
    url, drop = create_postgres_database("crlive")
    try:
        migrate(url)
        server = LiveServer(url, workers=2, threads=8)
        try:
            check_race(server)
        finally:
            server.stop()
    finally:
        drop()
