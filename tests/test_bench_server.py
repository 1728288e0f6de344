"""``codereview bench server`` runs end to end, on loopback, bounded in time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, require_postgres

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
    assert [(row[0], row[1]) for row in rows] == [("ws", "1"), ("ws", "2"), ("http", "1"), ("http", "2")]
    header = next(line for line in output.splitlines() if "steps/s" in line)
    columns = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    for row in rows:
        values = dict(zip(columns, row))
        assert int(values["steps/s"]) > 0 and int(values["anchor steps/s"]) > 0
        assert values["errors"] == "0" and values["anchor errors"] == "0"
        assert float(values["ratio"]) > 0
        low, high = (float(bound) for bound in values["ratio range"].split("-"))
        assert low <= float(values["ratio"]) <= high


def test_bench_server_on_postgres_prints_the_commit_floor() -> None:
    require_postgres()
    output = run_bench("--db", "postgres", "--transport", "ws",
                       "--postgres-url", os.environ.get("TEST_DATABASE_URL",
                                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    assert re.search(r"commit floor: \d+\.\d+ ms", output)
    header = next(line for line in output.splitlines() if "steps/s" in line)
    columns = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    for row in table_rows(output):
        values = dict(zip(columns, row))
        assert values["errors"] == "0"
        # The local server's own CPU for the steps: it does work for every step.
        assert float(values["db cpu ms/step"]) > 0
