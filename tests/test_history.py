"""Replay, analytics and export over stored episodes, on SQLite and Postgres.

Expected analytics figures are computed here, independently, from the episodes the test plays.
"""

from __future__ import annotations

import io
import json
import math
import random
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.services import episodes as episode_service

from conftest import ROOT, create_postgres_database, migrate, require_postgres

CODEREVIEW = str(Path(sys.executable).parent / "codereview")
ROUNDING = 1e-6  # analytics round to six decimals
AGENTS = [("careful", "m-1"), ("sloppy", "m-2"), ("careful", "m-3")]


class Player:
    """Runs service calls in one shared transaction, or one transaction per call."""

    def __init__(self, app, shared=None) -> None:  # type: ignore[no-untyped-def]
        self.database, self.registry, self.shared = app.extensions["database"], app.extensions["registry"], shared

    def start(self, **kwargs):  # type: ignore[no-untyped-def]
        if self.shared is not None:
            return episode_service.start_episode(self.shared, self.registry, **kwargs)
        with self.database.transaction() as db:
            return episode_service.start_episode(db, self.registry, **kwargs)

    def step(self, session_id: str, action: dict):  # type: ignore[no-untyped-def]
        if self.shared is not None:
            episode = episode_service.current_episode(self.shared, session_id)
            return episode_service.apply_step(self.shared, self.registry, episode, action)
        with self.database.session() as reader:
            episode = episode_service.current_episode(reader, session_id)
        with self.database.transaction() as db:
            return episode_service.apply_step(db, self.registry, episode, action)

    def result(self, session_id: str) -> dict:
        if self.shared is not None:
            return episode_service.session_result(self.shared, self.registry, session_id)
        with self.database.session() as db:
            return episode_service.session_result(db, self.registry, session_id)


def play(player: Player, rng: random.Random, index: int, finish: bool = True) -> dict:
    """Play one episode through the services with a random mixed policy; return what happened."""
    registry = player.registry
    task = rng.choice(registry.names())
    agent, model = rng.choice(AGENTS)
    split = rng.choice(["train", "test"])
    session_id = f"s-{index}"
    outcome = player.start(task=task, session_id=session_id, seed=index, split=split, agent=agent, model=model)
    spec = registry.episode(task, seed=index, split=split)
    record = {"task": task, "split": split, "agent": agent, "model": model, "episode_id": outcome.episode_id,
              "rewards": [], "confidences": [], "done": False}
    budget = rng.randint(1, registry.get(task).max_steps + 2)
    for _ in range(budget):
        roll = rng.random()
        confidence = round(rng.random(), 3) if rng.random() < 0.8 else None
        if roll < 0.45 and spec.issues:  # a pull request may plant nothing
            planted = rng.choice(spec.issues)
            action = {"action_type": "identify_issue", "confidence": confidence, "issue": {
                "line_number": planted.line_number, "issue_type": planted.issue_type.value, "severity": "low"}}
        elif roll < 0.85:
            action = {"action_type": "identify_issue", "confidence": confidence, "issue": {
                "line_number": rng.randint(1, spec.line_count), "issue_type": registry.get(task).issue_type.value,
                "severity": "medium"}}
        else:
            action = {"action_type": "request_hint"}
        result = player.step(session_id, action)
        record["rewards"].append(result.reward.step_reward)
        if action["action_type"] == "identify_issue" and confidence is not None:
            record["confidences"].append((confidence, result.observation.info["last_outcome"] == "match"))
        if result.done:
            record["done"] = True
            break
    if finish and not record["done"]:
        record["rewards"].append(player.step(session_id, {"action_type": "submit_review"}).reward.step_reward)
        record["done"] = True
    record["result"] = player.result(session_id)
    return record


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stored(request, tmp_path_factory, sqlite_template):  # type: ignore[no-untyped-def]
    """One database per backend with 40 played episodes, shared by the module's read-only tests."""
    from app import create_app

    drop = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("history") / "history.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        require_postgres()
        url, drop = create_postgres_database("crhist")
        migrate(url)
    application = create_app({"TESTING": True, "DATABASE_URL": url})
    rng = random.Random(20261126)
    # One transaction per call, as a server runs them.
    records = [play(Player(application), rng, index, finish=index % 7 != 0) for index in range(40)]
    yield application, records, url
    application.extensions["database"].dispose()
    if drop is not None:
        drop()


@pytest.fixture
def app(stored):  # type: ignore[no-untyped-def]
    return stored[0]


@pytest.fixture
def played(stored):  # type: ignore[no-untyped-def]
    return stored[1]


@pytest.fixture
def database_url(stored):  # type: ignore[no-untyped-def]
    return stored[2]


def nearest_rank(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct * len(ordered) / 100)) - 1]


def query(client, name: str, **params):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/analytics/{name}", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["rows"]


def test_summary_matches_independent_figures(client, played) -> None:  # type: ignore[no-untyped-def]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in played:
        groups[(record["task"], record["split"])].append(record)
    rows = {(row["task"], row["split"]): row for row in query(client, "summary")}
    assert set(rows) == set(groups)
    for key, records in groups.items():
        row = rows[key]
        finished = [r for r in records if r["done"]]
        scores = [r["result"]["completion_score"] for r in finished]
        assert row["episodes"] == len(records) and row["finished"] == len(finished)
        if not finished:  # the episodes' secret draws the test split's episodes: a group may finish none
            assert row["success_rate"] is None and row["mean_score"] is None and row["median_score"] is None
        else:
            assert row["success_rate"] == pytest.approx(
                sum(r["result"]["success"] for r in finished) / len(finished), abs=ROUNDING)
            assert row["mean_score"] == pytest.approx(statistics.mean(scores), abs=ROUNDING)
            for pct, column in ((50, "median_score"), (10, "p10_score"), (90, "p90_score")):
                assert row[column] == pytest.approx(nearest_rank(scores, pct), abs=ROUNDING)
        assert row["mean_steps"] == pytest.approx(statistics.mean(len(r["rewards"]) for r in records), abs=ROUNDING)
        assert row["mean_total_reward"] == pytest.approx(statistics.mean(sum(r["rewards"]) for r in records), abs=1e-5)
        assert row["mean_hints"] == pytest.approx(statistics.mean(r["result"]["hints_used"] for r in records), abs=ROUNDING)


def test_agents_leaderboard_and_filters(client, played) -> None:  # type: ignore[no-untyped-def]
    rows = query(client, "agents", task="security_audit")
    expected: dict[tuple, list[float]] = defaultdict(list)
    for record in played:
        if record["task"] == "security_audit":
            scores = expected[(record["agent"], record["model"])]  # a pair may have finished none
            if record["done"]:
                scores.append(record["result"]["completion_score"])
    means_by_pair = {(r["agent"], r["model"]): r["mean_score"] for r in rows}
    assert set(means_by_pair) == set(expected)
    for key, scores in expected.items():
        if scores:
            assert means_by_pair[key] == pytest.approx(statistics.mean(scores), abs=ROUNDING), key
        else:
            assert means_by_pair[key] is None, key
    ranks = [-(r["mean_score"] or 0.0) for r in rows]  # best first; none finished ranks as 0
    assert ranks == sorted(ranks)


def test_issue_kinds_hardest_first(client, played) -> None:  # type: ignore[no-untyped-def]
    rows = query(client, "issues")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in played:
        if not record["done"]:
            continue
        for issue in record["result"]["matched_issues"]:
            counts[issue["kind"]][0] += 1
        for issue in record["result"]["missed_issues"]:
            counts[issue["kind"]][1] += 1
    assert {r["kind"]: [r["found"], r["missed"]] for r in rows} == counts
    rates = [r["find_rate"] for r in rows]
    assert rates == sorted(rates)


def test_false_positive_rates(client, played) -> None:  # type: ignore[no-untyped-def]
    rows = {(r["task"], r["agent"]): r for r in query(client, "false_positives")}
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for record in played:
        key = (record["task"], record["agent"])
        result = record["result"]
        reports = result["found"] + result["false_positives"] + result["duplicates"]
        totals[key][0] += reports
        totals[key][1] += result["false_positives"]
        totals[key][2] += result["duplicates"]
    for key, (reports, fps, dups) in totals.items():
        assert rows[key]["reports"] == reports and rows[key]["false_positives"] == fps
        assert rows[key]["false_positive_rate"] == pytest.approx(fps / reports if reports else None, abs=ROUNDING)
        assert rows[key]["duplicate_rate"] == pytest.approx(dups / reports if reports else None, abs=ROUNDING)


def test_calibration_bins(client, played) -> None:  # type: ignore[no-untyped-def]
    bins: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for record in played:
        for confidence, hit in record["confidences"]:
            bins[min(int(confidence * 10), 9)].append((confidence, hit))
    rows = {r["bin"]: r for r in query(client, "calibration")}
    assert set(rows) == set(bins)
    for index, entries in bins.items():
        assert rows[index]["reports"] == len(entries)
        assert rows[index]["hit_rate"] == pytest.approx(sum(hit for _, hit in entries) / len(entries), abs=ROUNDING)
        assert rows[index]["mean_confidence"] == pytest.approx(statistics.mean(c for c, _ in entries), abs=ROUNDING)


def test_timeline(client, played) -> None:  # type: ignore[no-untyped-def]
    rows = query(client, "timeline", bucket="hour")
    assert sum(r["episodes"] for r in rows) == len(played)
    assert sum(r["finished"] for r in rows) == sum(r["done"] for r in played)
    assert all(len(r["bucket"]) == 16 and r["bucket"].endswith(":00") for r in rows)
    assert client.get("/api/analytics/timeline?bucket=week").status_code == 422


def test_episode_listing_filters_sorts_and_pages(client, played) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/api/episodes", query_string={"agent": "careful", "status": "finished",
                                                     "sort": "completion_score", "order": "asc", "limit": 5}).get_json()
    expected = [r for r in played if r["agent"] == "careful" and r["done"]]
    assert page["total"] == len(expected) and len(page["items"]) == min(5, len(expected))
    scores = [item["completion_score"] for item in page["items"]]
    assert scores == sorted(scores)
    seen = []
    for number in range(1, page["pages"] + 1):
        seen += [item["id"] for item in client.get("/api/episodes", query_string={
            "agent": "careful", "status": "finished", "limit": 5, "page": number}).get_json()["items"]]
    assert sorted(seen) == sorted(r["episode_id"] for r in expected)
    assert client.get("/api/episodes?limit=500").status_code == 422
    assert client.get("/api/episodes?sort=nonsense").status_code == 422
    assert client.get("/api/episodes?success=true").get_json()["total"] == sum(
        1 for r in played if r["done"] and r["result"]["success"])


def test_replay_of_every_episode_is_identical(client, played) -> None:  # type: ignore[no-untyped-def]
    for record in played:
        report = client.get(f"/api/episodes/{record['episode_id']}/replay").get_json()
        assert report["identical"], report
        assert [s["recorded_reward"] for s in report["steps"]] == record["rewards"]
        assert [s["replayed_reward"] for s in report["steps"]] == record["rewards"]


def test_replay_of_hundreds_of_random_episodes(app, client) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(99)
    with app.extensions["database"].transaction() as db:
        player = Player(app, shared=db)
        records = [play(player, rng, 1000 + index) for index in range(200)]
    try:
        for record in records:
            report = client.get(f"/api/episodes/{record['episode_id']}/replay").get_json()
            assert report["identical"] and [s["replayed_reward"] for s in report["steps"]] == record["rewards"]
    finally:
        delete_episodes(app, [r["episode_id"] for r in records])


def delete_episodes(app, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Remove episodes this test added, so the module's shared data stays as played."""
    with app.extensions["database"].transaction() as db:
        db.execute(sa.text("UPDATE sessions SET current_episode_id = NULL WHERE current_episode_id IN :ids")
                   .bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids})
        for table in ("episode_issues", "steps", "episodes"):
            column = "id" if table == "episodes" else "episode_id"
            db.execute(sa.text(f"DELETE FROM {table} WHERE {column} IN :ids")
                       .bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids})


def test_a_corrupted_reward_is_detected(app, client, database_url) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    target = play(Player(app), rng, 5000)
    while len(target["rewards"]) < 3:
        delete_episodes(app, [target["episode_id"]])
        target = play(Player(app), rng, 5000 + len(target["rewards"]))
    try:
        check_corruption_detected(app, client, database_url, target)
    finally:
        delete_episodes(app, [target["episode_id"]])


def check_corruption_detected(app, client, database_url, target) -> None:  # type: ignore[no-untyped-def]
    with app.extensions["database"].transaction() as db:
        db.execute(sa.text("UPDATE steps SET reward = reward + 0.1 WHERE episode_id = :e AND \"index\" = 2"),
                   {"e": target["episode_id"]})
    report = client.get(f"/api/episodes/{target['episode_id']}/replay").get_json()
    assert not report["identical"] and report["divergences"] == 1
    assert [s["identical"] for s in report["steps"]].index(False) == 1
    env = {"DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent)}
    single = subprocess.run([CODEREVIEW, "replay", target["episode_id"]], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert single.returncode == 1 and "DIVERGED" in single.stdout
    audit = subprocess.run([CODEREVIEW, "replay", "--all"], capture_output=True, text=True, env=env, cwd=ROOT,
                           timeout=300)
    assert audit.returncode == 1 and f"DIVERGED {target['episode_id']}" in audit.stdout
    assert "1 diverged" in audit.stdout


def test_export_round_trips_through_json_and_pyarrow(client, played, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    finished = {r["episode_id"]: r for r in played if r["done"]}
    lines = client.get("/api/export").get_data(as_text=True).splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["episode_id"] for r in records} == set(finished)
    for record in records:
        source = finished[record["episode_id"]]
        assert [s["reward"] for s in record["steps"]] == source["rewards"]
        assert record["replay_identical"] and record["completion_score"] == source["result"]["completion_score"]
        assert record["steps"][0]["observation"]["step_number"] == 0
        assert record["prompt"][1]["role"] == "user" and "   1 | " in record["prompt"][1]["content"]
        assert json.loads(record["completion"][0]["content"]) == [s["action"] for s in record["steps"]]
    env = {"DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent)}
    path = tmp_path / "episodes.parquet"
    subprocess.run([CODEREVIEW, "export", "--format", "parquet", "-o", str(path)], check=True, env=env,
                   cwd=ROOT, timeout=300, capture_output=True)
    table = pq.read_table(path)
    assert table.num_rows == len(finished)
    rows = {row["episode_id"]: row for row in table.to_pylist()}
    for key, source in finished.items():
        assert [s["reward"] for s in json.loads(rows[key]["steps"])] == source["rewards"]
        assert rows[key]["prompt"][0]["role"] == "system"
    jsonl = subprocess.run([CODEREVIEW, "export", "--task", "syntax_check"], check=True, env=env, cwd=ROOT,
                           timeout=300, capture_output=True, text=True)
    exported = [json.loads(line) for line in io.StringIO(jsonl.stdout)]
    assert {r["episode_id"] for r in exported} == {k for k, r in finished.items() if r["task"] == "syntax_check"}


def test_analytics_command_formats(played, database_url) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent)}
    as_json = subprocess.run([CODEREVIEW, "analytics", "summary", "--format", "json"], capture_output=True,
                             text=True, env=env, cwd=ROOT, timeout=120, check=True)
    assert sum(row["episodes"] for row in json.loads(as_json.stdout)) == len(played)
    as_csv = subprocess.run([CODEREVIEW, "analytics", "false_positives", "--format", "csv"], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=120, check=True)
    assert as_csv.stdout.splitlines()[0].startswith("task,agent,episodes,reports")
    table = subprocess.run([CODEREVIEW, "analytics", "issues"], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=120, check=True)
    assert "find_rate" in table.stdout
