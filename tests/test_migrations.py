"""Alembic builds the schema from nothing, the models agree with it (``alembic check``), and a
migration that changes a column's type keeps its values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

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


def test_json_documents_survive_the_change_of_type_on_postgres() -> None:
    """Migration 0005 turns the ``jsonb`` documents of an existing database into ``json`` and
    back, values intact (``jsonb`` had reordered their keys: the values compare equal)."""
    require_postgres()
    url, drop = create_postgres_database("crmig")
    documents = {"state": {"found": ["a"], "nested": {"b": 1.5, "a": None}}, "result": {"score": 0.25},
                 "action": {"action_type": "submit_review"}, "breakdown": {"step": -0.1},
                 "changes": {"feedback": "é ✓", "hint_text": None}}
    try:
        assert alembic(url, "upgrade", "0004").returncode == 0
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                insert_rows(connection, documents)

            def stored() -> tuple[str, dict[str, Any]]:
                with engine.connect() as connection:
                    row = connection.exec_driver_sql(
                        "SELECT pg_typeof(e.state)::text, e.state, e.result, s.action, s.breakdown, s.changes"
                        " FROM episodes e JOIN steps s ON s.episode_id = e.id").one()
                return row[0], dict(zip(("state", "result", "action", "breakdown", "changes"), row[1:]))

            assert stored() == ("jsonb", documents)
            upgrade = alembic(url, "upgrade", "0005")
            assert upgrade.returncode == 0, upgrade.stderr
            engine.dispose()
            assert stored() == ("json", documents)
            assert alembic(url, "downgrade", "0004").returncode == 0
            engine.dispose()
            assert stored() == ("jsonb", documents)
        finally:
            engine.dispose()
    finally:
        drop()


def insert_rows(connection: sa.Connection, documents: dict[str, Any]) -> None:
    """One session, episode and step holding ``documents``, written as plain SQL (the models
    describe the newest schema, not revision 0004's)."""
    now = "2026-01-01T00:00:00+00:00"
    connection.exec_driver_sql(
        "INSERT INTO sessions (id, transport, created_at, updated_at) VALUES ('s1', 'http', %(now)s, %(now)s)",
        {"now": now})
    connection.exec_driver_sql(
        "INSERT INTO episodes (id, session_id, task, split, code, file_name, status, step_count, max_steps,"
        " cumulative_reward, state, result, created_at, updated_at)"
        " VALUES ('e1', 's1', 'syntax_check', 'train', 'x = 1', 'a.py', 'finished', 1, 10, 0.0,"
        " %(state)s::jsonb, %(result)s::jsonb, %(now)s, %(now)s)",
        {"state": json.dumps(documents["state"]), "result": json.dumps(documents["result"]), "now": now})
    connection.exec_driver_sql(
        "INSERT INTO steps (episode_id, index, action_type, action, reward, breakdown, changes, done, created_at)"
        " VALUES ('e1', 1, 'submit_review', %(action)s::jsonb, 0.0, %(breakdown)s::jsonb, %(changes)s::jsonb,"
        " true, %(now)s)",
        {**{key: json.dumps(documents[key]) for key in ("action", "breakdown", "changes")}, "now": now})
