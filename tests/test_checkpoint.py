"""SQLite's write-ahead log is copied into the database file by a thread of its own, not by
the commit that happens to fill it."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from app.db import Database
from app.env import load_registry
from app.services import stepping

REPORT = {"action_type": "identify_issue",
          "issue": {"line_number": 2, "issue_type": "syntax_error", "severity": "high"}}


def _database(tmp_path: Path, template: Path, interval: float) -> Database:
    path = tmp_path / "db.sqlite"
    shutil.copy(template, path)
    return Database(f"sqlite:///{path}", sqlite_checkpoint_interval=interval)


def _play(database: Database, episodes: int) -> None:
    registry = load_registry()
    for seed in range(episodes):
        outcome, live = stepping.reset_session(database, registry, transport="http", task="syntax_check", seed=seed)
        stepping.step_session(database, registry, outcome.session_id, REPORT, live=live)


def _episodes_in_main_file(database: Database, tmp_path: Path) -> int:
    """Episodes found in a copy of the database file alone, without its log: what has been
    checkpointed."""
    copy = tmp_path / "main-file-only.sqlite"
    shutil.copy(database.url.database, copy)
    with sqlite3.connect(copy) as connection:
        return connection.execute("SELECT count(*) FROM episodes").fetchone()[0]


def test_the_thread_copies_the_log_into_the_database_file(tmp_path: Path, sqlite_template: Path) -> None:
    database = _database(tmp_path, sqlite_template, interval=0.02)
    try:
        _play(database, 5)
        deadline = time.monotonic() + 10
        while _episodes_in_main_file(database, tmp_path) < 5:
            assert time.monotonic() < deadline, "the log was never checkpointed"
            time.sleep(0.05)
        assert database.checkpointer is not None and database.checkpointer.checkpoints > 0
    finally:
        database.dispose()


def test_without_the_thread_a_small_log_stays_in_the_log(tmp_path: Path, sqlite_template: Path) -> None:
    """The control: the copy above only holds the episodes because something checkpointed."""
    database = _database(tmp_path, sqlite_template, interval=0)
    try:
        assert database.checkpointer is None
        _play(database, 5)
        time.sleep(0.2)
        assert _episodes_in_main_file(database, tmp_path) == 0
    finally:
        database.dispose()


@pytest.mark.parametrize(("interval", "expected"), [(0.1, 16384), (0, 1000)])
def test_commits_checkpoint_only_as_a_fallback_while_the_thread_runs(
    tmp_path: Path, sqlite_template: Path, interval: float, expected: int
) -> None:
    database = _database(tmp_path, sqlite_template, interval=interval)
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == expected
    finally:
        database.dispose()


def test_a_forked_process_starts_its_own_thread_and_failures_do_not_stop_it(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = _database(tmp_path, sqlite_template, interval=0.01)
    checkpointer = database.checkpointer
    assert checkpointer is not None
    calls: list[float] = []

    def failing(*_connection: object) -> tuple[int, int, int]:
        calls.append(time.monotonic())
        raise RuntimeError("disk gone")

    monkeypatch.setattr(checkpointer, "checkpoint", failing)
    try:
        checkpointer.ensure_running()
        checkpointer.ensure_running()  # once per process
        deadline = time.monotonic() + 10
        while len(calls) < 3:
            assert time.monotonic() < deadline, "the thread stopped after a failure"
            time.sleep(0.01)
        checkpointer.stop()
        time.sleep(0.05)
        stopped_at = len(calls)
        time.sleep(0.1)
        assert len(calls) == stopped_at
        # What a child sees after gunicorn's fork: the thread belongs to another pid.
        checkpointer._pid = -1  # noqa: SLF001
        checkpointer.ensure_running()
        deadline = time.monotonic() + 10
        while len(calls) == stopped_at:
            assert time.monotonic() < deadline, "no thread after the fork"
            time.sleep(0.01)
    finally:
        database.dispose()


def test_under_gevent_the_checkpoint_runs_on_a_native_thread(tmp_path: Path, sqlite_template: Path) -> None:
    """In a gevent-patched process (the default server's) the checkpoints run on an operating
    system thread of their own, not as a greenlet that would hold up every other one."""
    import subprocess
    import sys

    path = tmp_path / "db.sqlite"
    shutil.copy(sqlite_template, path)
    script = f"""
from gevent import monkey; monkey.patch_all()
import os, time
from app.db import Database
from app.env import load_registry
from app.services import stepping
database = Database("sqlite:///{path}", sqlite_checkpoint_interval=0.02)
registry = load_registry()
for seed in range(5):
    outcome, live = stepping.reset_session(database, registry, transport="http", task="syntax_check", seed=seed)
    stepping.step_session(database, registry, outcome.session_id, {{"action_type": "request_hint"}}, live=live)
time.sleep(0.5)
print(database.checkpointer.checkpoints, len(os.listdir("/proc/self/task")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    checkpoints, threads = (int(word) for word in done.stdout.split())
    assert checkpoints > 0
    assert threads >= 2  # the main thread and the checkpoint's
