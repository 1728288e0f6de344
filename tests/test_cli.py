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
