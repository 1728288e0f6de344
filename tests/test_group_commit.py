"""Group commit: concurrent writers share commits, each returns only after its own commit, and a
failing job fails alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
import sqlalchemy as sa

from app.db import Database
from app.errors import Conflict

WRITERS = 16


@pytest.fixture
def database(database_url: str):  # type: ignore[no-untyped-def]
    handle = Database(database_url)
    with handle.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS group_commit_probe"))
        connection.execute(sa.text("CREATE TABLE group_commit_probe (n integer PRIMARY KEY)"))
    yield handle
    with handle.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE group_commit_probe"))
    handle.dispose()


def rows(database: Database) -> list[int]:
    with database.read() as connection:
        return sorted(connection.execute(sa.text("SELECT n FROM group_commit_probe")).scalars())


def held_open(n: int) -> tuple[Callable[[sa.Connection], int], threading.Event, threading.Event]:
    """A write job that, once running, holds its batch open until released, then inserts ``n``;
    with the events that say it started and that release it."""
    started, release = threading.Event(), threading.Event()

    def job(connection: sa.Connection) -> int:
        started.set()
        release.wait(10)
        connection.execute(sa.text("INSERT INTO group_commit_probe (n) VALUES (:n)"), {"n": n})
        return n

    return job, started, release


def test_concurrent_writes_share_commits_and_are_visible_on_return(database: Database) -> None:
    commits = []
    sa.event.listen(database.engine, "commit", lambda _connection: commits.append(1))
    # The first batch stays open until every other writer has queued behind it.
    first_job, first_started, release = held_open(0)

    def write(n: int) -> int:
        result = database.write(lambda connection: connection.execute(
            sa.text("INSERT INTO group_commit_probe (n) VALUES (:n)"), {"n": n}).rowcount and n)
        assert n in rows(database)  # committed before write() returned
        return result

    with ThreadPoolExecutor(WRITERS + 1) as pool:
        head = pool.submit(database.write, first_job)
        assert first_started.wait(10)
        others = [pool.submit(write, n) for n in range(1, WRITERS + 1)]
        while len(database.committer._pending) < WRITERS:  # all queued behind the open batch
            threading.Event().wait(0.005)
        release.set()
        assert head.result(10) == 0
        assert sorted(future.result(10) for future in others) == list(range(1, WRITERS + 1))
    assert rows(database) == list(range(WRITERS + 1))
    # One commit for the first job, and one for all the writers that queued behind it.
    assert len(commits) == 2


def test_a_failing_job_fails_alone(database: Database) -> None:
    def conflicting(_connection: sa.Connection) -> None:
        raise Conflict("lost the race")

    def duplicate(connection: sa.Connection) -> None:
        connection.execute(sa.text("INSERT INTO group_commit_probe (n) VALUES (1)"))
        connection.execute(sa.text("INSERT INTO group_commit_probe (n) VALUES (1)"))

    database.write(lambda connection: connection.execute(sa.text("INSERT INTO group_commit_probe (n) VALUES (5)")))
    with pytest.raises(Conflict):
        database.write(conflicting)
    with pytest.raises(sa.exc.IntegrityError):
        database.write(duplicate)
    database.write(lambda connection: connection.execute(sa.text("INSERT INTO group_commit_probe (n) VALUES (6)")))
    assert rows(database) == [5, 6]


def test_a_batch_with_a_bad_job_still_commits_the_good_ones(database: Database) -> None:
    """Jobs batched with one that breaks the shared transaction are re-run one by one."""
    blocker, first_started, release = held_open(100)

    def insert(n: int):  # type: ignore[no-untyped-def]
        return lambda connection: connection.execute(sa.text("INSERT INTO group_commit_probe (n) VALUES (:n)"), {"n": n})

    with ThreadPoolExecutor(4) as pool:
        head = pool.submit(database.write, blocker)
        assert first_started.wait(10)
        good = [pool.submit(database.write, insert(n)) for n in (1, 2)]
        bad = pool.submit(database.write, insert(100))  # duplicates the blocker's row
        while len(database.committer._pending) < 3:
            threading.Event().wait(0.005)
        release.set()
        head.result(10)
        for future in good:
            future.result(10)
        with pytest.raises(sa.exc.IntegrityError):
            bad.result(10)
    assert rows(database) == [1, 2, 100]
