"""``codereview evaluate``: metrics in JSON, episodes stored in-process or on a server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from app.env import ReviewResult
from app.services.evaluation import TaskMetrics

from conftest import ROOT, TASK_NAMES, LiveServer, free_port

CODEREVIEW = str(Path(sys.executable).parent / "codereview")
METRICS = {"task", "episodes", "mean_completion_score", "median_completion_score", "success_rate", "precision",
           "recall", "false_positive_rate", "mean_steps", "episodes_per_second"}


def evaluate(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([CODEREVIEW, "evaluate", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=env)


def stored_episodes(database_url: str) -> list[sa.Row]:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT e.task, e.seed, e.split, e.agent, e.model, e.status, e.step_count, e.completion_score, "
            "s.transport, (SELECT count(*) FROM steps WHERE steps.episode_id = e.id) AS steps "
            "FROM episodes e JOIN sessions s ON s.id = e.session_id ORDER BY e.task, e.seed")).all()
    engine.dispose()
    return rows


def test_in_process_evaluation_prints_metrics_and_stores_every_episode(database_url: str) -> None:
    run = evaluate(database_url, "--agent", "static", "--task", "logic_bug_detection", "--task", "syntax_check",
                   "--split", "test", "--episodes", "3", "--seed-start", "10", "--workers", "2", "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["agent"], report["model"], report["split"], report["where"]) == ("static", "static-v1", "test", "in-process")
    assert [metrics["task"] for metrics in report["tasks"]] == ["logic_bug_detection", "syntax_check"]
    for metrics in report["tasks"]:
        assert set(metrics) == METRICS and metrics["episodes"] == 3
        assert 0 <= metrics["mean_completion_score"] <= 1 and metrics["episodes_per_second"] > 0

    rows = stored_episodes(database_url)
    assert [(row.task, row.seed) for row in rows] == [("logic_bug_detection", seed) for seed in (10, 11, 12)] + \
        [("syntax_check", seed) for seed in (10, 11, 12)]
    for row in rows:
        assert (row.split, row.agent, row.model, row.status, row.transport) == ("test", "static", "static-v1", "finished", "local")
        assert row.steps == row.step_count >= 1
    means = {m["task"]: m["mean_completion_score"] for m in report["tasks"]}
    for task in means:
        scores = [row.completion_score for row in rows if row.task == task]
        assert means[task] == pytest.approx(sum(scores) / len(scores), abs=1e-4)


def test_table_output_names_every_task(database_url: str) -> None:
    run = evaluate(database_url, "--agent", "random", "--episodes", "2")
    assert run.returncode == 0, run.stderr
    for task in TASK_NAMES:
        assert task in run.stdout
    assert "random (random-v1), split test, in-process" in run.stdout
    assert len(stored_episodes(database_url)) == 2 * len(TASK_NAMES)


@pytest.mark.parametrize("args, message", [
    (["--agent", "clairvoyant"], "valid agents"),
    (["--agent", "static", "--task", "nope"], "valid tasks"),
    (["--agent", "static", "--episodes", "0"], "--episodes"),
])
def test_bad_arguments_are_refused(database_url: str, args: list[str], message: str) -> None:
    run = evaluate(database_url, *args)
    assert run.returncode == 2 and message in run.stderr
    assert stored_episodes(database_url) == []


# ---------------------------------------------------------------------- through a server


@pytest.fixture(scope="module")
def server_database(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[LiveServer, str]]:
    """gunicorn over a SQLite file this module can read."""
    path = tmp_path_factory.mktemp("evaluate") / "server.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    server = LiveServer(url)
    yield server, url
    server.stop()


@pytest.fixture
def local_database(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "local.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.mark.parametrize("transport", ["http", "ws"])
def test_url_mode_stores_the_episodes_on_the_server(server_database: tuple[LiveServer, str], local_database: str,
                                                    transport: str) -> None:
    server, server_url = server_database
    seed_start = 100 if transport == "http" else 200
    run = evaluate(local_database, "--agent", "random", "--task", "logic_bug_detection", "--episodes", "4",
                   "--seed-start", str(seed_start), "--workers", "2", "--url", server.url,
                   "--transport", transport, "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["where"] == server.url and report["tasks"][0]["episodes"] == 4
    assert stored_episodes(local_database) == []
    rows = [row for row in stored_episodes(server_url) if seed_start <= row.seed < seed_start + 4]
    assert [row.seed for row in rows] == list(range(seed_start, seed_start + 4))
    assert {(row.agent, row.model, row.status, row.transport) for row in rows} == {("random", "random-v1", "finished", transport)}


def test_the_same_seeds_score_the_same_in_process_and_through_a_server(
        server_database: tuple[LiveServer, str], local_database: str) -> None:
    args = ["--agent", "random", "--task", "syntax_check", "--episodes", "5", "--seed-start", "300", "--format", "json"]
    local = json.loads(evaluate(local_database, *args).stdout)["tasks"][0]
    remote = json.loads(evaluate(local_database, *args, "--url", server_database[0].url).stdout)["tasks"][0]
    for key in METRICS - {"episodes_per_second"}:
        assert local[key] == remote[key], key


def test_the_oracle_is_refused_with_a_url(server_database: tuple[LiveServer, str], local_database: str) -> None:
    server, server_url = server_database
    before = len(stored_episodes(server_url))
    run = evaluate(local_database, "--agent", "oracle", "--url", server.url, "--episodes", "1")
    assert run.returncode != 0 and "in-process only" in run.stderr
    assert len(stored_episodes(server_url)) == before


def test_an_unreachable_server_fails_the_command(local_database: str) -> None:
    run = evaluate(local_database, "--agent", "static", "--url", f"http://127.0.0.1:{free_port()}", "--episodes", "1")
    assert run.returncode == 1 and "CONNECTION_ERROR" in run.stderr


# ---------------------------------------------------------------------- metrics arithmetic


def result(score: float, success: bool, found: int, false_positives: int, duplicates: int, steps: int,
           precision: float, recall: float) -> ReviewResult:
    return ReviewResult(task_name="t", completion_score=score, success=success, precision=precision, recall=recall,
                        f1=score, found=found, expected=3, false_positives=false_positives, duplicates=duplicates,
                        decoys_flagged=0, hints_used=0, steps_used=steps, total_reward=0.0, done=True,
                        matched_issues=[], missed_issues=[])


def test_task_metrics_aggregate_episodes() -> None:
    metrics = TaskMetrics.from_results("t", [
        result(1.0, True, 3, 0, 0, 4, 1.0, 1.0),
        result(0.5, False, 1, 2, 1, 5, 0.25, 0.4),
        result(0.0, False, 0, 0, 0, 1, 0.0, 0.0),
    ], seconds=2.0)
    assert metrics.mean_completion_score == 0.5 and metrics.median_completion_score == 0.5
    assert metrics.success_rate == pytest.approx(1 / 3, abs=1e-4)
    assert metrics.precision == pytest.approx(1.25 / 3, abs=1e-4) and metrics.recall == pytest.approx(0.4667, abs=1e-4)
    assert metrics.false_positive_rate == pytest.approx(2 / 7, abs=1e-4)  # 2 false positives in 7 reports
    assert metrics.mean_steps == pytest.approx(3.33, abs=0.01) and metrics.episodes_per_second == 1.5
