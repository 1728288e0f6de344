"""``codereview bench server`` runs end to end, on loopback, bounded in time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from conftest import ROOT, require_postgres

from app.benchmark.load import run_load
from app.devserver import LocalServer, migrate
from app.models import Episode

CODEREVIEW = str(Path(sys.executable).parent / "codereview")


def run_bench(*args: str) -> str:
    result = subprocess.run([CODEREVIEW, "bench", "server", "--seconds", "1", "--clients", "1,2", *args],
                            capture_output=True, text=True, timeout=240, cwd=ROOT,
                            env=dict(os.environ, COLUMNS="250"))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table_rows(output: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("│ ").split("│")]
            for line in output.splitlines() if re.match(r"│ (ws|http) ", line)]


def test_bench_server_against_the_openenv_anchor() -> None:
    output = run_bench("--anchor", "openenv", "--rounds", "2")
    rows = table_rows(output)
    configurations = [("ws", "1"), ("ws", "2"), ("http", "1"), ("http", "2")]
    assert [(row[0], row[1]) for row in rows] == configurations * 2
    rows, by_request = rows[:len(configurations)], rows[len(configurations):]
    header = next(line for line in output.splitlines() if "steps/s" in line)
    columns = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    step_p50 = {}
    for row in rows:
        values = dict(zip(columns, row))
        step_p50[row[0], row[1]] = values["p50 ms"]
        assert int(values["steps/s"]) > 0 and int(values["anchor steps/s"]) > 0
        assert values["errors"] == "0" and values["anchor errors"] == "0"
        assert float(values["ratio"]) > 0
        # The load generator works for every step, and everything measured keeps cores busy.
        assert float(values["load cpu ms/step"]) > 0
        assert 0 < float(values["cores busy"]) and 0 < float(values["anchor cores busy"])
        low, high = (float(bound) for bound in values["ratio range"].split("-"))
        assert low <= float(values["ratio"]) <= high
    # The second table: each server's p50 by kind of request.
    header = next(line for line in output.splitlines() if "last step" in line)
    columns = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    assert columns == ["transport", "clients", "reset", "step", "last step",
                       "anchor reset", "anchor step", "anchor last step"]
    for row in by_request:
        values = dict(zip(columns, row))
        assert all(float(values[name]) > 0 for name in columns[2:])
        assert values["step"] == step_p50[row[0], row[1]]  # the same round as the first table's row
        # A reset generates a new episode: it takes longer than a step on both servers.
        assert float(values["reset"]) > float(values["step"])
        assert float(values["anchor reset"]) > float(values["anchor step"])


def test_bench_server_on_postgres_prints_the_commit_floor() -> None:
    require_postgres()
    output = run_bench("--db", "postgres", "--transport", "ws",
                       "--postgres-url", os.environ.get("TEST_DATABASE_URL",
                                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    assert re.search(r"commit floor: \d+\.\d+ ms", output)
    header = next(line for line in output.splitlines() if "steps/s" in line)
    columns = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    rows = table_rows(output)
    for row in rows[:len(rows) // 2]:  # the first table (the second gives latencies by request)
        values = dict(zip(columns, row))
        assert values["errors"] == "0"
        # The local server's own CPU for the steps: it does work for every step.
        assert float(values["db cpu ms/step"]) > 0


def test_the_load_never_resets_two_episodes_with_one_seed(tmp_path: Path) -> None:
    """Every reset generates a new episode, as for a trainer: seeds repeat neither within a run
    nor across runs, so no server's cache of recent episodes can serve a reset."""
    url = f"sqlite:///{tmp_path / 'load.db'}"
    migrate(url)
    server = LocalServer(url, workers=2, threads=8)
    try:
        results = [run_load(server.url, transport, clients=3, seconds=1.0) for transport in ("ws", "http", "ws")]
    finally:
        server.stop()
    assert all(result.errors == 0 and result.episodes > 3 for result in results)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            total, distinct = connection.execute(sa.select(sa.func.count(), sa.func.count(Episode.seed.distinct()))).one()
    finally:
        engine.dispose()
    assert total >= sum(result.episodes for result in results) and distinct == total
