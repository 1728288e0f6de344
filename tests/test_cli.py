"""The ``codereview`` console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

CODEREVIEW = str(Path(sys.executable).parent / "codereview")


def test_routes_and_tasks_commands(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent)}
    routes = subprocess.run([CODEREVIEW, "routes"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert routes.returncode == 0, routes.stderr
    for path in ("/reset", "/step", "/state", "/ws", "/mcp", "/openapi.json"):
        assert path in routes.stdout
    tasks = subprocess.run([CODEREVIEW, "tasks"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert tasks.returncode == 0 and "security_audit" in tasks.stdout


def test_a_command_on_an_unmigrated_database_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "PATH": str(Path(sys.executable).parent),
           "CODEREVIEW_EPISODE_SECRET": "cli-test"}
    done = subprocess.run([CODEREVIEW, "analytics", "summary"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: the database has no tables yet: run `alembic upgrade head` first "
        "(`make run` and the container's entry point do)"], done.stderr
