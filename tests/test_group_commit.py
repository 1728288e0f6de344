"""Group commit: concurrent writers share commits, each returns only after its own commit, and a
failing job fails alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
import sqlalchemy as sa

from app.db import Combinable, Database
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


class ProbeKind:
    """A combinable write kind on the probe table: each part inserts its ``n`` unless ``n`` is
    negative (a part that does not apply: count 0, and ``finish`` raises Conflict). Records the
    parts of every shared statement it runs."""

    def __init__(self) -> None:
        self.statements: list[list[int]] = []

    def run(self, connection: sa.Connection, params: list) -> list[int]:  # type: ignore[type-arg]
        numbers = [part["n"] for part in params]
        self.statements.append(numbers)
        applied = [n for n in numbers if n >= 0]
        if applied:
            values = ", ".join(f"(:n{index})" for index in range(len(applied)))
            connection.execute(sa.text(f"INSERT INTO group_commit_probe (n) VALUES {values}"),
                               {f"n{index}": n for index, n in enumerate(applied)})
        return [1 if n >= 0 else 0 for n in numbers]

    def write(self, database: Database, n: int, key: object = None) -> int:
        def alone(connection: sa.Connection) -> int:
            return finish(self.run(connection, [{"n": n}])[0])

        def finish(count: int) -> int:
            if count != 1:
                raise Conflict(f"{n} does not apply")
            return n

        return database.write(alone, single_statement=True, combinable=Combinable(
            run=self.run, key=n if key is None else key, params={"n": n}, finish=finish))


def queued_behind_a_held_batch(database: Database, writes: list[Callable[[], int]]) -> list:  # type: ignore[type-arg]
    """Run ``writes`` at once, all queued behind one open batch so that they form the next batch;
    each one's result or exception."""
    blocker, started, release = held_open(1000)
    with ThreadPoolExecutor(len(writes) + 1) as pool:
        head = pool.submit(database.write, blocker)
        assert started.wait(10)
        futures = [pool.submit(write) for write in writes]
        while len(database.committer._pending) < len(writes):
            threading.Event().wait(0.005)
        release.set()
        head.result(10)
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(10))
            except Exception as exc:  # noqa: BLE001 - the outcome under test
                outcomes.append(exc)
    return outcomes


def test_combinable_writes_of_a_batch_share_one_statement_on_postgres(database: Database,
                                                                      database_url: str) -> None:
    kind = ProbeKind()
    outcomes = queued_behind_a_held_batch(database, [lambda n=n: kind.write(database, n) for n in (1, 2, -3, 4)])
    assert outcomes[:2] == [1, 2] and isinstance(outcomes[2], Conflict) and outcomes[3] == 4
    assert rows(database) == [1, 2, 4, 1000]
    if database_url.startswith("postgresql"):
        assert len(kind.statements) == 1 and sorted(kind.statements[0]) == [-3, 1, 2, 4]
    else:  # SQLite has no round trips to save: each write runs its own statement
        assert sorted(numbers for statement in kind.statements for numbers in statement) == [-3, 1, 2, 4]
        assert all(len(statement) == 1 for statement in kind.statements)


def test_writes_with_one_key_never_share_a_statement(database: Database) -> None:
    kind = ProbeKind()
    outcomes = queued_behind_a_held_batch(
        database, [lambda n=n: kind.write(database, n, key=n % 2) for n in (1, 2, 3, 4, 5)])
    assert outcomes == [1, 2, 3, 4, 5]
    assert rows(database) == [1, 2, 3, 4, 5, 1000]
    for statement in kind.statements:
        assert len({n % 2 for n in statement}) == len(statement)


def test_a_shared_statement_that_fails_is_retried_one_write_at_a_time(database: Database) -> None:
    kind = ProbeKind()
    database.write(lambda connection: connection.execute(sa.text("INSERT INTO group_commit_probe (n) VALUES (7)")))
    outcomes = queued_behind_a_held_batch(database, [lambda n=n: kind.write(database, n) for n in (5, 7, 9)])
    assert outcomes[0] == 5 and outcomes[2] == 9
    assert isinstance(outcomes[1], sa.exc.IntegrityError)  # 7 was there: only its own write fails
    assert rows(database) == [5, 7, 9, 1000]
