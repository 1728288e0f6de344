"""Evaluation episodes an agent cannot replay: the episode secret, answer keys for admin keys only,
and one play per key of each evaluation episode."""

from __future__ import annotations

import json
import subprocess
import sys
from statistics import mean

import pytest
import sqlalchemy as sa

from app.env import EVALUATION_SPLITS, CodeReviewerEnv, load_registry
from app.services.deployment import stored_episode_secret

from conftest import HINT, ROOT, SUBMIT, report

AGENT, ADMIN = "agent-key-0001", "admin-key-0002"
PUBLIC = load_registry()
TASKS = PUBLIC.names()


def digests(secret: bytes | None, split: str, seeds: range) -> list[str]:
    registry = PUBLIC.with_episode_secret(secret) if secret is not None else PUBLIC
    return [registry.episode(task, seed=seed, split=split).snippet.digest for task in TASKS for seed in seeds]


# ---------------------------------------------------------------------- the engine


def test_a_secret_changes_evaluation_episodes_and_nothing_else() -> None:
    seeds = range(12)
    for split in ("train", "validation", "test"):  # the hold-out split: tests/test_holdout.py
        public, keyed = digests(None, split, seeds), digests(b"one secret", split, seeds)
        if split in EVALUATION_SPLITS:
            # A few may coincide by chance (a split has few base modules); most must not.
            assert sum(a == b for a, b in zip(public, keyed)) <= len(public) // 4, split
        else:
            assert public == keyed, split
    assert digests(b"one secret", "test", seeds) != digests(b"another secret", "test", seeds)


def test_the_holder_of_the_secret_regenerates_every_episode_exactly_in_any_process() -> None:
    seeds = range(6)
    here = digests(b"operator secret", "test", seeds)
    assert here == digests(b"operator secret", "test", seeds)
    program = ("import json; from app.env import load_registry; r = load_registry().with_episode_secret("
               "lambda: 'operator secret'); print(json.dumps([r.episode(t, seed=s, split='test').snippet.digest "
               f"for t in r.names() for s in range({len(seeds)})]))")
    for hash_seed in ("0", "12345"):
        output = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True,
                                check=True, env={"PYTHONHASHSEED": hash_seed, "PATH": ""}).stdout
        assert json.loads(output) == here


def test_hints_of_an_evaluation_episode_depend_on_the_secret() -> None:
    windows = {}
    for secret in (b"first", b"second"):
        env = CodeReviewerEnv("security_audit", registry=PUBLIC.with_episode_secret(secret))
        texts = []
        for seed in range(8):
            env.reset(seed=seed, split="test")
            texts.append(env.step(HINT)[0].hint_text)
        windows[secret] = texts
    assert windows[b"first"] != windows[b"second"]


# ---------------------------------------------------------------------- the service


@pytest.fixture
def keyed(make_app):  # type: ignore[no-untyped-def]
    return make_app(API_KEYS=AGENT, ADMIN_API_KEYS=ADMIN)


def client_for(app, key: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


def play(client, task: str, seed: int, split: str, lines: list[tuple[int, str]]) -> dict:  # type: ignore[no-untyped-def]
    """Reset, report ``lines`` (as many as the budget allows), submit; the final result, with the
    episode's id under ``episode_id``."""
    reset = client.post("/reset", json={"task": task, "seed": seed, "split": split})
    assert reset.status_code == 200, reset.get_json()
    session = reset.get_json()["session_id"]
    budget = reset.get_json()["observation"]["max_steps"] - 1
    for line, kind in lines[:budget]:
        client.post("/step", json={"session_id": session, "action": report(line, kind).to_dict()})
    client.post("/step", json={"session_id": session, "action": SUBMIT.to_dict()})
    return {**client.get(f"/result?session_id={session}").get_json(), "episode_id": reset.get_json()["episode_id"]}


def test_the_stored_secret_is_one_per_database_and_every_app_agrees(make_app) -> None:  # type: ignore[no-untyped-def]
    first, second = make_app(), make_app()
    secret = stored_episode_secret(first.extensions["database"])
    assert secret == stored_episode_secret(second.extensions["database"]) and len(secret) == 64
    codes = [app.test_client().post("/reset", json={"task": "security_audit", "seed": 3, "split": "test"})
             .get_json()["observation"]["code_snippet"]["code"] for app in (first, second)]
    assert codes[0] == codes[1]
    operator = PUBLIC.with_episode_secret(secret).episode("security_audit", seed=3, split="test")
    assert operator.snippet.code == codes[0]


def test_a_configured_secret_is_used_instead_of_the_stored_one(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(EPISODE_SECRET="configured secret")
    code = app.test_client().post("/reset", json={"task": "logic_bug_detection", "seed": 5, "split": "test"}) \
        .get_json()["observation"]["code_snippet"]["code"]
    expected = PUBLIC.with_episode_secret(b"configured secret").episode("logic_bug_detection", seed=5, split="test")
    assert code == expected.snippet.code


def test_regenerating_from_the_seed_without_the_secret_scores_nothing_worth_having(make_app) -> None:  # type: ignore[no-untyped-def]
    # A fixed secret, unknown to the attacker, so that the figure is the same in every run.
    agent = client_for(make_app(API_KEYS=AGENT, ADMIN_API_KEYS=ADMIN, EPISODE_SECRET="regeneration attack"), AGENT)
    scores = {}
    for task in TASKS:
        per_task = []
        for seed in range(20):
            regenerated = PUBLIC.episode(task, seed=seed, split="test")  # the project's code, no secret
            lines = [(issue.line_number, issue.issue_type.value) for issue in regenerated.issues]
            per_task.append(play(agent, task, seed, "test", lines)["completion_score"])
        scores[task] = mean(per_task)
    assert all(score <= 0.2 for score in scores.values()), scores


def test_the_answer_key_of_an_evaluation_episode_is_for_admin_keys_only(keyed) -> None:  # type: ignore[no-untyped-def]
    agent, admin = client_for(keyed, AGENT), client_for(keyed, ADMIN)
    result = play(agent, "security_audit", 4, "test", [])
    assert result["matched_issues"] == [] and result["missed_issues"] == [] and result["answer_key_hidden"]
    assert result["expected"] == 9 and result["completion_score"] == 0.0
    episode_id = result["episode_id"]
    record = agent.get(f"/api/episodes/{episode_id}").get_json()
    assert record["status"] == "finished" and record["answer_key_hidden"] is True
    assert record["planted_issues"] is None and record["decoys"] is None
    assert record["result"]["missed_issues"] == []
    replayed = agent.get(f"/api/episodes/{episode_id}/replay").get_json()
    assert replayed["identical"] and "missed_issues" not in json.dumps(replayed)

    # The same key on a public split, and an admin key on an evaluation split, see everything.
    public_id = play(agent, "security_audit", 4, "validation", [])["episode_id"]
    assert len(agent.get(f"/api/episodes/{public_id}").get_json()["planted_issues"]) == 9
    admin_result = play(admin, "security_audit", 4, "test", [])
    assert len(admin_result["missed_issues"]) == 9 and "answer_key_hidden" not in admin_result
    admin_id = admin_result["episode_id"]
    assert len(admin.get(f"/api/episodes/{admin_id}").get_json()["planted_issues"]) == 9


def test_without_keys_the_answer_key_stays_visible(client) -> None:  # type: ignore[no-untyped-def]
    result = play(client, "logic_bug_detection", 2, "test", [])
    assert len(result["missed_issues"]) == 3
    again = play(client, "logic_bug_detection", 2, "test", [])  # local use: replays allowed
    assert again["expected"] == 3


@pytest.mark.parametrize("split", ["test"])  # and the hold-out split in tests/test_holdout.py
def test_an_evaluation_episode_is_played_once_per_agent_key(keyed, split: str) -> None:  # type: ignore[no-untyped-def]
    agent, admin = client_for(keyed, AGENT), client_for(keyed, ADMIN)
    play(agent, "syntax_check", 9, split, [])
    again = agent.post("/reset", json={"task": "syntax_check", "seed": 9, "split": split})
    assert again.status_code == 409 and "once per key" in again.get_json()["error"]["message"]
    # Over MCP too; the refused start leaves the caller's session usable.
    rpc = agent.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "start_review", "arguments": {"task": "syntax_check", "seed": 9, "split": split}}}).get_json()
    assert "once per key" in json.dumps(rpc)
    # Another seed, a public split, and the admin key are not affected.
    assert agent.post("/reset", json={"task": "syntax_check", "seed": 10, "split": split}).status_code == 200
    assert agent.post("/reset", json={"task": "syntax_check", "seed": 9, "split": "train"}).status_code == 200
    assert agent.post("/reset", json={"task": "syntax_check", "seed": 9, "split": "train"}).status_code == 200
    for _ in range(2):
        assert admin.post("/reset", json={"task": "syntax_check", "seed": 9, "split": split}).status_code == 200
    with keyed.extensions["database"].engine.connect() as connection:
        keys = connection.execute(sa.text("SELECT play_key FROM episodes WHERE play_key IS NOT NULL")).scalars().all()
    assert len(keys) == 2 and all(split in key for key in keys)


def test_the_replay_attack_scores_nothing(keyed) -> None:  # type: ignore[no-untyped-def]
    """Play once, read the planted issues from the episode's record, start the same seed again
    and report them: the record shows no answer key and the second start is refused."""
    agent = client_for(keyed, AGENT)
    scores = []
    for task in TASKS:
        for seed in range(3):
            episode_id = play(agent, task, seed, "test", [])["episode_id"]
            planted = agent.get(f"/api/episodes/{episode_id}").get_json()["planted_issues"] or []
            lines = [(issue["line_number"], issue["issue_type"]) for issue in planted]
            again = agent.post("/reset", json={"task": task, "seed": seed, "split": "test"})
            if again.status_code != 200:
                scores.append(0.0)
                continue
            scores.append(play(agent, task, seed, "test", lines)["completion_score"])
    assert mean(scores) <= 0.2


def test_a_missing_stored_secret_is_made_once_and_kept(make_app) -> None:  # type: ignore[no-untyped-def]
    database = make_app().extensions["database"]
    with database.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM deployment_settings WHERE name = 'episode_secret'"))
    made = stored_episode_secret(database)
    assert len(made) == 64 and stored_episode_secret(database) == made
    with database.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT value FROM deployment_settings")).scalars().all()
    assert stored == [made.decode()]


def test_a_command_on_an_unmigrated_database_says_so_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    arguments = ["verify-tasks", "--task", "syntax_check", "--split", "test", "--seeds", "0:1"]
    run = subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *arguments], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "PATH": ""})
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "not migrated" in run.stderr and "alembic upgrade head" in run.stderr
