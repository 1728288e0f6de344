"""Alembic builds the schema from nothing, and the models agree with it (``alembic check``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


from conftest import ROOT, create_postgres_database, require_postgres


def alembic(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alembic", "-x", f"url={url}", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def check_round_trip(url: str) -> None:
    upgrade = alembic(url, "upgrade", "head")
    assert upgrade.returncode == 0, upgrade.stderr
    check = alembic(url, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    assert alembic(url, "downgrade", "base").returncode == 0
    assert alembic(url, "upgrade", "head").returncode == 0


def test_migrations_on_empty_sqlite(tmp_path: Path) -> None:
    check_round_trip(f"sqlite:///{tmp_path / 'empty.db'}")


def test_migrations_on_empty_postgres() -> None:
    require_postgres()
    url, drop = create_postgres_database("crmig")
    try:
        check_round_trip(url)
    finally:
        drop()


def test_check_detects_a_model_the_migrations_lack(tmp_path: Path) -> None:
    """The check is not vacuous: a table missing from the migrations is reported."""
    url = f"sqlite:///{tmp_path / 'drift.db'}"
    assert alembic(url, "upgrade", "head").returncode == 0
    script = (
        "import sqlalchemy as sa, app.models\n"
        "from app.db import Base\n"
        "sa.Table('drift', Base.metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
        "from alembic.config import main\n"
        f"main(argv=['-x', 'url={url}', 'check'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "drift" in result.stdout + result.stderr
