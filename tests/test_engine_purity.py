"""The engine imports no web, database or validation library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("flask", "flask_sock", "sqlalchemy", "marshmallow", "alembic", "apispec", "gunicorn")
ENGINE = Path(__file__).resolve().parents[1] / "app" / "env"


def test_fresh_interpreter_imports_the_engine_without_web_or_db_libraries() -> None:
    code = (
        "import sys, app.env\n"
        "from app.env import CodeReviewerEnv\n"
        "env = CodeReviewerEnv('syntax_check'); env.reset()\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ENGINE.parents[1])
    assert out.stdout.strip() == ""


def test_no_engine_module_names_a_forbidden_import() -> None:
    for path in ENGINE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
