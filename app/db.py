"""Database plumbing: the declarative base, the engine and the session factory.

``init_db(app)`` builds one engine per application from ``DATABASE_URL``. SQLite gets WAL mode,
foreign keys and a busy timeout on every new connection; Postgres gets pre-ping so a dropped
connection is replaced instead of failing a request.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import select
import sqlite3
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Mapping, Optional, TypeVar

import psycopg
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app, g

from app.errors import DomainError, Unavailable

log = logging.getLogger(__name__)

# How much longer than the server's statement timeout a wait for its answer may last before
# the server counts as stalled (its own cancellation, a clean error, comes first).
ANSWER_GRACE_SECONDS = 2.0

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(so.DeclarativeBase):
    """Declarative base of every model."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


T = TypeVar("T")


@dataclass(frozen=True)
class Combinable(Generic[T]):
    """A one-statement write that Postgres may run in a single statement with others of its kind.

    ``run(connection, params)`` writes several of them (one parameter mapping each) with one
    statement and returns each one's count of rows written, in order; ``finish(count)`` is the
    write's result, or raises a :class:`~app.errors.DomainError` when it did not apply (it then
    wrote nothing). Writes with equal ``key`` never share a statement: a statement's parts all
    see the database as it was before it, so two of them must never touch the same row.
    """

    run: Callable[[sa.Connection, list[Mapping[str, Any]]], list[int]]
    key: Any
    params: Mapping[str, Any]
    finish: Callable[[int], T]


# At most this many writes share a statement (each size is a statement Postgres prepares).
MAX_COMBINED = 16


@dataclass
class _WriteJob(Generic[T]):
    work: Callable[[sa.Connection], T]
    # The work is one statement, which may then commit on its own (see GroupCommitter).
    single_statement: bool = False
    # The same write, in a form that shares a statement with others of its kind (Postgres).
    combinable: Optional[Combinable[T]] = None
    result: Optional[T] = None
    error: Optional[BaseException] = None
    done: bool = False
    # Set once the job is done, or earlier to hand its thread the lead of the next batch.
    wake: threading.Event = field(default_factory=threading.Event)


class WriteGate:
    """One SQLite writer at a time: the threads of a process queue on a lock, and processes
    on an exclusive ``flock`` of a file beside the database.

    SQLite lets one writer in and makes the others retry in its busy handler, which sleeps
    between attempts (up to 100 ms each); a kernel file lock instead wakes the next writer the
    moment the lock is free, so several server processes can share one SQLite file. Reentrant
    within a thread. ``path`` None (an in-memory database) uses the thread lock alone.

    Under gevent (the default server) the lock is patched into a greenlet's lock, and a
    ``flock`` held by another process is waited for on a thread of gevent's pool, so that the
    worker's other greenlets run meanwhile (see :func:`lock_file`).
    """

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: Optional[int] = None
        self._pid = 0

    def acquire(self) -> None:
        """Wait for the gate (this thread may already hold it).

        Raises:
            sqlalchemy.exc.OperationalError: the lock file cannot be opened (as SQLite's own
                error for a database it cannot open).
        """
        self._lock.acquire()
        if self._depth == 0 and self.path is not None:
            try:
                lock_file(self._file())
            except OSError as exc:
                self._lock.release()
                raise sa.exc.OperationalError(f"cannot open the write lock {self.path}", None, exc) from exc
            except BaseException:
                self._lock.release()
                raise
        self._depth += 1

    def release(self) -> None:
        """Release one hold of the gate."""
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def __enter__(self) -> "WriteGate":
        self.acquire()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.release()

    def _file(self) -> int:
        # A forked child shares its parent's open file, and so its lock: open one of its own.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # type: ignore[arg-type]
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        """Close the lock file (it is reopened on the next acquire)."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None and self._pid == os.getpid():
                os.close(fd)


def lock_file(fd: int) -> None:
    """Take an exclusive ``flock`` on ``fd``, waiting for it as long as another process holds it.

    In a gevent-patched process a blocking ``flock`` would stop every greenlet of the worker
    (gevent cannot patch it); there the wait happens on a native thread of gevent's pool, the
    calling greenlet alone waiting for it. Locks of ``flock`` belong to the open file, not to
    the thread, so the lock taken there is this process's.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    if _gevent_monkey() is not None:
        import gevent

        gevent.get_hub().threadpool.apply(fcntl.flock, (fd, fcntl.LOCK_EX))
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database file on a thread of its own.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold and syncs
    the database file: that writer, and every writer queued behind the write gate, waits
    milliseconds for it (about a tenth of a single writer's time at 1000 pages). Here a PASSIVE
    checkpoint runs every ``interval`` seconds instead, beside the writers, which it never
    blocks (SQLite lets a checkpoint and a writer proceed together; two processes' checkpoints
    take turns, the second one reporting busy). The writers keep an automatic checkpoint at
    :class:`Database`'s ``sqlite_fallback_checkpoint_pages`` so that the log stays bounded if
    this thread falls behind.

    The thread starts at the first :meth:`ensure_running` of each process (gunicorn forks its
    workers, and threads do not survive a fork) and is a daemon: it holds nothing that a
    stopping process could lose, since the log is the durable copy until checkpointed.
    """

    def __init__(self, engine: sa.Engine, interval: float) -> None:
        self._engine = engine
        self.interval = interval
        self._pid = 0
        self._lock = threading.Lock()
        self._stop = _StopFlag()
        self.checkpoints = 0

    def ensure_running(self) -> None:
        """Start this process's checkpoint thread unless it runs already."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = _StopFlag()
            # The thread holds the checkpointer weakly: it ends with its database's owner.
            start_native_thread(WalCheckpointer._run, (weakref.ref(self), self._stop, self.interval))

    def checkpoint(self, connection: Optional[sqlite3.Connection] = None) -> tuple[int, int, int]:
        """One PASSIVE checkpoint, on ``connection`` or on one opened for it: SQLite's ``(busy,
        frames in the log, frames copied)``."""
        own = connection is None
        if connection is None:
            connection = self.connect()
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            if own:
                connection.close()
        return busy, frames, copied

    def connect(self) -> sqlite3.Connection:
        """A plain ``sqlite3`` connection to the database, for checkpoints."""
        return sqlite3.connect(self._engine.url.database, isolation_level=None, check_same_thread=False)

    @staticmethod
    def _run(owner: "weakref.ref[WalCheckpointer]", stop: "_StopFlag", interval: float) -> None:
        """The thread: a checkpoint every ``interval`` seconds on a connection of its own (plain
        ``sqlite3``, no pool: under gevent this is a native thread, where the pool's patched
        locks do not belong, and the checkpoint's copying and syncing run beside the greenlets)."""
        sleep = native_sleep()
        failing = False
        connection = None
        try:
            while not stop.set:
                sleep(interval)
                checkpointer = owner()
                if checkpointer is None or stop.set:
                    return
                try:
                    if connection is None:
                        connection = checkpointer.connect()
                    checkpointer.checkpoint(connection)
                    checkpointer.checkpoints += 1
                    failing = False
                except Exception:  # noqa: BLE001 - the next round tries again; writers' fallback bounds the log
                    if not failing:
                        log.warning("SQLite checkpoint failed (retrying quietly until one succeeds)", exc_info=True)
                    failing = True
                del checkpointer
        finally:
            if connection is not None:
                connection.close()

    def stop(self) -> None:
        """Stop this process's thread (it is started again by the next write)."""
        with self._lock:
            self._stop.set = True
            self._pid = 0


class _StopFlag:
    """Tells a native thread to end (a plain attribute: no lock that gevent may have patched)."""

    def __init__(self) -> None:
        self.set = False


def _gevent_monkey() -> Any:
    """gevent's ``monkey`` module when this process is patched (the default server), else None."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey if monkey is not None and monkey.is_module_patched("threading") else None


def start_native_thread(target: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Run ``target(*args)`` on an operating-system thread that does not keep the process alive,
    also under gevent (whose patched ``threading.Thread`` would make it a greenlet, run on the
    thread of every other greenlet)."""
    monkey = _gevent_monkey()
    if monkey is not None:
        monkey.get_original("_thread", "start_new_thread")(target, args)
    else:
        threading.Thread(target=target, args=args, name="sqlite-checkpoint", daemon=True).start()


def native_sleep() -> Callable[[float], None]:
    """``time.sleep`` as it was before gevent patched it (for native threads)."""
    monkey = _gevent_monkey()
    return monkey.get_original("time", "sleep") if monkey is not None else time.sleep


def _outcome_unknown() -> Unavailable:
    """The error of a write whose connection failed after its commit may have been applied."""
    return Unavailable("the database connection failed while committing; the "
                       "change may have been saved: check before retrying")


class GroupCommitter:
    """Runs write jobs from many threads in shared transactions: one commit (one fsync) covers
    every job that queued while the previous commit was in flight, and each caller returns only
    once the commit holding its own work is done.

    A job gets a connection inside an open transaction and must not commit. A job that raises a
    :class:`~app.errors.DomainError` must have written nothing (it fails alone); any other error
    rolls the shared transaction back and its jobs run again one transaction each, so one bad job
    never fails another; a database that stalls every job (see :func:`stalls_every_job`) fails
    them all at once instead, since each would wait as long again.

    On Postgres every statement is a round trip, and the batch's BEGIN and COMMIT two more: jobs
    that are :class:`Combinable` share a statement with the batch's other jobs of their kind, and
    a batch that is one statement runs in autocommit (the statement commits itself).
    """

    def __init__(self, engine: sa.Engine, gate: Optional[WriteGate] = None, max_batch: int = 256) -> None:
        self._engine = engine
        self._gate = gate
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_WriteJob[Any]] = []
        self._busy = False
        # One connection kept for the batches (only the leader of the moment uses it): no pool
        # checkout, reset or pre-ping per commit. Replaced once the driver reports it broken.
        self._connection: Optional[sa.Connection] = None

    def run(self, work: Callable[[sa.Connection], T], single_statement: bool = False,
            combinable: Optional[Combinable[T]] = None) -> T:
        """Run ``work`` in a committed transaction shared with concurrent callers; return its result.

        ``single_statement``: ``work`` writes with one statement at most (any other it runs
        writes nothing). Alone in its batch on Postgres, it then runs in autocommit: the
        statement is its own transaction, committed (and synced) before the server answers, in
        one round trip instead of three (BEGIN, the statement, COMMIT).

        ``combinable``: the same write as ``work``, in a form that shares one statement with the
        batch's other writes of its kind on Postgres (one round trip for all of them, and a
        batch made only of those runs in autocommit as above). Alone, ``work`` runs.
        """
        job: _WriteJob[T] = _WriteJob(work, single_statement, combinable)
        with self._lock:
            self._pending.append(job)
            leading = not self._busy
            self._busy = True
        while not job.done:
            if leading:
                self._lead()
            else:
                job.wake.wait()
                leading = True  # woken either done (the loop ends) or to lead the next batch
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Commit the next batch, wake its callers, and pass the lead to the first one waiting."""
        with self._lock:
            batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
        try:
            self._execute(batch)
        finally:
            with self._lock:
                for queued in batch:
                    queued.done = True
                    queued.wake.set()
                if self._pending:
                    self._pending[0].wake.set()
                else:
                    self._busy = False

    def _execute(self, batch: list[_WriteJob[Any]]) -> None:
        gate = self._gate
        try:
            if gate is not None:
                gate.acquire()
        except Exception as exc:  # noqa: BLE001 - the batch's jobs fail with it, none is lost
            for job in batch:
                job.result, job.error = None, exc
            return
        try:
            self._execute_gated(batch)
        finally:
            if gate is not None:
                gate.release()

    def _execute_gated(self, batch: list[_WriteJob[Any]]) -> None:
        statements: list[list[_WriteJob[Any]]] = [[job] for job in batch]
        if self._engine.dialect.name == "postgresql":
            statements = _statements(batch)
            if (len(statements) == 1 and all(job.single_statement for job in statements[0])
                    and self._execute_alone(statements[0])):
                return
        committing = False
        try:
            connection = self._open()
            with connection.begin():
                for jobs in statements:
                    _run_statement(connection, jobs)
                committing = True  # from here on, a failure is the COMMIT's own
            return
        except Exception as exc:  # noqa: BLE001 - retried one by one below
            self._drop_if_broken()
            if stalls_every_job(exc) and not committing:
                # A silent server, or SQLite locked by another process: each job would wait as
                # long again. (A Postgres row lock or a slow statement is one job's: those are
                # run one by one below, so the others go through.)
                for job in batch:
                    job.result, job.error = None, exc
                return
            if committing:
                # The database may have committed before the connection failed: running
                # the jobs again would apply them twice, or report them as lost races.
                unknown = _outcome_unknown()
                for job in batch:
                    if job.error is None:
                        job.result, job.error = None, unknown
                return
        for job in batch:
            try:
                connection = self._open()
                with connection.begin():
                    job.result, job.error = job.work(connection), None
            except Exception as exc:  # noqa: BLE001 - handed to the job's own caller
                job.result, job.error = None, exc
                self._drop_if_broken()

    def _execute_alone(self, jobs: list[_WriteJob[Any]]) -> bool:
        """Run one statement (a job's, or combined jobs', see :func:`_statements`) in autocommit
        (Postgres): the statement commits itself.

        Returns False, having run nothing, when the kept connection looks broken: the jobs then
        run in a transaction, where a failure before COMMIT is known to have written nothing
        and is retried on a new connection. Here a failure leaves the outcome unknown, so the
        connection is checked first: an idle connection has nothing to read unless the server
        closed it (a restart, an idle timeout), and that check costs no round trip. A combined
        statement that fails (it wrote nothing) also returns False: its jobs then take the
        transactional path, which runs each one alone if the batch fails again.
        """
        try:
            driver = self._open().connection.driver_connection
            readable, _, _ = select.select([driver.fileno()], [], [], 0)
            if readable:
                return False
            driver.autocommit = True
        except Exception:  # noqa: BLE001 - the transactional path meets the same failure
            return False
        ran = True
        try:
            _run_statement(self._open(), jobs)
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                for job in jobs:  # the statement may have committed first
                    job.result, job.error = None, _outcome_unknown()
            elif len(jobs) > 1:
                ran = False  # one part's failure fails the statement: retried in a transaction
            else:
                jobs[0].error = exc  # the statement failed: its transaction wrote nothing
        except Exception as exc:  # noqa: BLE001 - handed to the jobs' callers
            for job in jobs:
                job.result, job.error = None, exc
        self._drop_if_broken()
        if self._connection is not None:
            try:
                if self._connection.in_transaction():
                    # Work run through SQLAlchemy begins its transaction object even in
                    # autocommit; the database has nothing open, so this ends nothing there.
                    self._connection.rollback()
                driver.autocommit = False
            except Exception as exc:  # noqa: BLE001 - a connection that cannot go back is dropped
                self._connection.invalidate(exc)
                self._drop_if_broken()
        return ran

    def _open(self) -> sa.Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def _drop_if_broken(self) -> None:
        connection = self._connection
        if connection is not None and (connection.invalidated or connection.closed):
            self._connection = None
            connection.close()

    def close(self) -> None:
        """Close the kept connection (it is reopened on the next write)."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _statements(batch: list[_WriteJob[Any]]) -> list[list[_WriteJob[Any]]]:
    """The statements that run a batch on Postgres: combinable jobs of one kind share a
    statement (up to :data:`MAX_COMBINED`, never two with one key); any other job is one alone.

    Jobs of one batch were all waiting at once, so running them in another order than they
    came is as valid as the order they came in.
    """
    kinds: dict[Any, list[list[_WriteJob[Any]]]] = {}
    alone: list[list[_WriteJob[Any]]] = []
    for job in batch:
        combinable = job.combinable
        if combinable is None:
            alone.append([job])
            continue
        groups = kinds.setdefault(combinable.run, [])
        for group in groups:
            if len(group) < MAX_COMBINED and all(other.combinable.key != combinable.key  # type: ignore[union-attr]
                                                 for other in group):
                group.append(job)
                break
        else:
            groups.append([job])
    return [group for groups in kinds.values() for group in groups] + alone


def _run_statement(connection: sa.Connection, jobs: list[_WriteJob[Any]]) -> None:
    """Run one statement of :func:`_statements` (no commit): a job's own work, or combined jobs'
    shared statement. A job whose write did not apply gets its DomainError; any other error
    propagates."""
    if len(jobs) == 1:
        job = jobs[0]
        try:
            job.result = job.work(connection)
        except DomainError as exc:
            job.error = exc  # wrote nothing
        return
    parts = [job.combinable for job in jobs]
    counts = parts[0].run(connection, [part.params for part in parts])  # type: ignore[union-attr]
    for job, part, count in zip(jobs, parts, counts):
        try:
            job.result, job.error = part.finish(count), None  # type: ignore[union-attr]
        except DomainError as exc:
            job.error = exc  # its part wrote nothing


@dataclass(frozen=True)
class _DriverForm:
    sql: str
    defaults: dict[str, Any]
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    # psycopg: the bound names in the order of their ``$n`` placeholders (None: named parameters).
    order: Optional[tuple[str, ...]] = None


class DriverStatement:
    """A Core statement compiled once per dialect and run on the driver's own cursor.

    SQLAlchemy's per-execution work (compiled-cache lookup, execution context, event dispatch,
    result setup) costs several times what SQLite or psycopg spend on a one-row statement; the
    step path's few statements skip it. Values go through the column types' bind processors,
    as SQLAlchemy would apply them, and the statement runs in the connection's transaction.
    Driver errors surface as SQLAlchemy's (``DBAPIError.instance``), and a lost connection is
    invalidated, so callers handle them as for any other statement.

    On psycopg the statement is compiled with Postgres' own ``$n`` placeholders and run on a
    ``psycopg.RawCursor``, which sends it as it is. A plain cursor rewrites ``%(name)s`` into
    ``$n`` at every execution; it caches the rewrite only for statements under 4 KiB with at
    most 50 parameters, so it parsed the last step's statement (its issue rows' values are
    parameters) afresh each time.
    """

    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        self._forms: dict[sa.Dialect, _DriverForm] = {}

    def _form(self, dialect: sa.Dialect) -> _DriverForm:
        form = self._forms.get(dialect)
        if form is None:
            # pysqlite takes named parameters (``:name``), psycopg's raw cursor ``$1``, ``$2``, ...
            raw = dialect.driver == "psycopg"
            paramstyle = "numeric_dollar" if raw else "named" if dialect.name == "sqlite" else None
            compile_dialect = type(dialect)(paramstyle=paramstyle) if paramstyle else dialect
            compiled = self.statement.compile(dialect=compile_dialect)
            defaults, processors = {}, []
            for bind in compiled.binds.values():
                name = compiled.bind_names[bind]
                if not bind.required:
                    defaults[name] = bind.value
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors.append((name, process))
            order = tuple(compiled.positiontup or ()) if raw else None
            form = self._forms[dialect] = _DriverForm(compiled.string, defaults, tuple(processors), order)
        return form

    def _prepare(self, form: _DriverForm, params: Mapping[str, Any]) -> Any:
        values = {**form.defaults, **params}
        for name, process in form.processors:
            values[name] = process(values[name])
        return values if form.order is None else [values[name] for name in form.order]

    def execute(self, connection: sa.Connection, params: Mapping[str, Any]) -> Any:
        """Run with ``params`` (every bound name); returns the driver's cursor."""
        form = self._form(connection.dialect)
        values = self._prepare(form, params)
        return on_driver(connection, form.sql, lambda cursor: cursor.execute(form.sql, values),
                         raw=form.order is not None)


def on_driver(connection: sa.Connection, sql: str, call: Callable[[Any], Any], raw: bool = False) -> Any:
    """Run ``call(cursor)`` on a new cursor of the connection's driver; returns the cursor.
    ``raw`` (psycopg): a ``RawCursor``, whose statements carry Postgres' own ``$n`` placeholders.

    A driver error is raised as SQLAlchemy would raise it (``DBAPIError.instance``: an
    ``OperationalError`` for a lost connection or a busy database), and a lost connection is
    invalidated, so callers handle it as for any statement.
    """
    dialect = connection.dialect
    fairy = connection.connection
    driver = fairy.driver_connection
    cursor = psycopg.RawCursor(driver) if raw else driver.cursor()
    try:
        call(cursor)
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error,
                                         connection_invalidated=lost, dialect=dialect) from exc
    return cursor


class _GatedSession(so.Session):
    """A writing session that holds its database's write gate from creation to close."""

    def __init__(self, *args: Any, gate: WriteGate, **kwargs: Any) -> None:
        gate.acquire()
        self._gate: Optional[WriteGate] = gate
        super().__init__(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            gate, self._gate = self._gate, None
            if gate is not None:
                gate.release()


class DatabaseStalled(psycopg.OperationalError):
    """The database server did not answer within the answer timeout (see :class:`BoundedConnection`)."""


class BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
    """psycopg's connection whose every wait for the server (a statement's reply, a COMMIT, a
    ping) ends after ``answer_timeout`` seconds: the connection is then closed (SQLAlchemy sees
    it closed and drops it from the pool) and :class:`DatabaseStalled` raised.

    The server's own ``statement_timeout`` and ``lock_timeout`` end a slow statement with a
    clean error first; this bounds a server, or a network in between, that stopped answering
    altogether, which no server-side setting can. It overrides ``Connection.wait``, through
    which psycopg 3 runs every operation on an open connection but which psycopg does not
    document: the version is pinned in ``pyproject.toml`` and ``tests/test_db_timeouts.py``
    fails if the method's signature moves.
    """

    answer_timeout: Optional[float] = None

    def wait(self, gen: Any, interval: float = psycopg.connection._WAIT_INTERVAL,  # type: ignore[attr-defined]
             timeout: Optional[float] = None) -> Any:
        limit = self.answer_timeout
        if timeout is not None or not limit:
            return super().wait(gen, interval=interval, timeout=timeout)
        try:
            return super().wait(gen, interval=interval, timeout=limit)
        except psycopg.errors._WaitTimeout:  # type: ignore[attr-defined]
            self.close()  # the server may still answer; nothing may read that answer as another's
            raise DatabaseStalled(f"the database did not answer within {limit:g} s") from None


def stalls_every_job(exc: BaseException) -> bool:
    """Whether ``exc`` (an SQLAlchemy error or a driver's) is the whole database's, not one
    statement's: a server that did not answer at all, or SQLite's write lock held elsewhere."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, DatabaseStalled) or _sqlite_locked(orig)


def _sqlite_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" (its write lock held by another connection)."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


class Database:
    """One engine and session factory, owned by an application.

    On Postgres, ``statement_timeout_ms`` and ``lock_timeout_ms`` become the server's
    ``statement_timeout`` and ``lock_timeout`` for the service's connections, and a wait for any
    answer of the server ends after the statement timeout and two seconds more (see
    :class:`BoundedConnection`); 0 leaves either unbounded.
    """

    def __init__(
        self, url: str, busy_timeout_ms: int = 5000, pool_size: int = 10,
        sqlite_synchronous: str = "NORMAL", sqlite_checkpoint_interval: float = 0.0,
        sqlite_fallback_checkpoint_pages: int = 16384, statement_timeout_ms: int = 0, lock_timeout_ms: int = 0,
    ) -> None:
        self.url = sa.engine.make_url(url)
        from app.jsonio import dumps_text

        options: dict[str, Any] = {"json_serializer": dumps_text}
        if self.is_sqlite:
            options["connect_args"] = {"check_same_thread": False}
        else:
            options.update(pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
            server_options = [self.url.query.get("options") or ""]
            if statement_timeout_ms > 0:
                server_options.append(f"-c statement_timeout={int(statement_timeout_ms)}")
            if lock_timeout_ms > 0:
                server_options.append(f"-c lock_timeout={int(lock_timeout_ms)}")
            options["connect_args"] = {"options": " ".join(filter(None, server_options))}
        answer_timeout = (statement_timeout_ms / 1000 + ANSWER_GRACE_SECONDS
                          if self.url.get_backend_name() == "postgresql" and statement_timeout_ms > 0 else None)
        if answer_timeout is not None and "connect_timeout" not in self.url.query and not os.environ.get(
                "PGCONNECT_TIMEOUT"):
            # A request whose connection stalled reconnects once: bound that wait alike
            # (libpq's own default is to wait for the operating system, minutes).
            options["connect_args"]["connect_timeout"] = max(2, math.ceil(answer_timeout))
        self.engine = sa.create_engine(self.url, **options)
        if answer_timeout is not None:
            def bounded_connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> BoundedConnection:
                connection = BoundedConnection.connect(*cargs, **cparams)
                connection.answer_timeout = answer_timeout
                return connection

            sa.event.listen(self.engine, "do_connect", bounded_connect)
        if self.is_sqlite:
            # With the checkpoint thread on, SQLite's own checkpoint only bounds the log.
            autocheckpoint = sqlite_fallback_checkpoint_pages if sqlite_checkpoint_interval > 0 else None
            sa.event.listen(
                self.engine, "connect", _sqlite_pragmas(busy_timeout_ms, sqlite_synchronous, autocheckpoint)
            )
            # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that a
            # transaction covers the reads it validates (see SQLAlchemy's pysqlite notes).
            sa.event.listen(self.engine, "begin", _sqlite_begin(busy_timeout_ms))
        self.sessionmaker = so.sessionmaker(self.engine, expire_on_commit=False)
        # Writers take SQLite's write lock at BEGIN: a read-then-write transaction that
        # upgraded later could fail with SQLITE_BUSY instead of waiting its turn. Before that
        # they pass the write gate (threads and processes in turn), so they never meet SQLite's
        # busy handler, whose sleeps grow to 100 ms.
        writer_engine = self.engine.execution_options(sqlite_immediate=True)
        self.write_gate: Optional[WriteGate] = None
        if self.is_sqlite:
            database = self.url.database
            in_memory = not database or database == ":memory:" or database.startswith("file::memory:")
            self.write_gate = WriteGate(None if in_memory else Path(f"{database}-writer.lock"))
        if self.write_gate is not None:
            self.writer_sessionmaker = so.sessionmaker(
                writer_engine, class_=_GatedSession, expire_on_commit=False, gate=self.write_gate)
        else:
            self.writer_sessionmaker = so.sessionmaker(writer_engine, expire_on_commit=False)
        self.committer = GroupCommitter(writer_engine, gate=self.write_gate)
        # Reads that need no transaction: on SQLite no BEGIN is sent (changing the isolation
        # level instead would cost a PRAGMA at every checkout and return); on Postgres the
        # driver's autocommit (no BEGIN / ROLLBACK round trips).
        self._autocommit_engine = self.engine.execution_options(
            **({"sqlite_no_begin": True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}))
        self.checkpointer: Optional[WalCheckpointer] = None
        if self.write_gate is not None and self.write_gate.path is not None and sqlite_checkpoint_interval > 0:
            self.checkpointer = WalCheckpointer(self._autocommit_engine, sqlite_checkpoint_interval)

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.url.get_backend_name() == "sqlite"

    def session(self, write: bool = False) -> so.Session:
        """A new session; ``write=True`` for one that will change rows."""
        return (self.writer_sessionmaker if write else self.sessionmaker)()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[so.Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self.session(write) as session, session.begin():
            yield session

    def write(self, work: Callable[[sa.Connection], T], single_statement: bool = False,
              combinable: Optional[Combinable[T]] = None) -> T:
        """Run ``work(connection)`` in a transaction committed before this returns; concurrent
        callers share commits (see :class:`GroupCommitter`, also for ``single_statement`` and
        ``combinable``)."""
        if self.checkpointer is not None:
            self.checkpointer.ensure_running()
        return self.committer.run(work, single_statement, combinable)

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """An autocommit connection for single-statement reads, returned to the pool afterwards
        (no BEGIN / ROLLBACK round trips: one statement is consistent on its own)."""
        with self._autocommit_engine.connect() as connection:
            yield connection

    def ping(self) -> None:
        """Run a trivial query; raises when the database is unreachable."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        """Close pooled connections and the write gate's file (tests, forks)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.committer.close()
        self.engine.dispose()
        if self.write_gate is not None:
            self.write_gate.close()


def _sqlite_pragmas(busy_timeout_ms: int, synchronous: str,  # type: ignore[no-untyped-def]
                    autocheckpoint: Optional[int] = None):
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"invalid SQLite synchronous mode {synchronous!r}")

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Leave transaction control to the "begin" listener below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if autocheckpoint is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
        cursor.close()

    return on_connect


def _sqlite_begin(busy_timeout_ms: int) -> Callable[[sa.Connection], None]:
    def begin(connection: sa.Connection) -> None:
        options = connection.get_execution_options()
        if options.get("sqlite_no_begin"):
            return
        immediate = options.get("sqlite_immediate", False)
        # On the driver: the statement needs none of SQLAlchemy's execution machinery.
        sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        if immediate and _gevent_monkey() is not None:
            on_driver(connection, sql, lambda cursor: _begin_immediate_cooperatively(cursor, busy_timeout_ms))
        else:
            on_driver(connection, sql, lambda cursor: cursor.execute(sql))

    return begin


def _begin_immediate_cooperatively(cursor: Any, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE`` under gevent: SQLite's busy handler would wait for a write lock held
    by another process (one outside the write gate) in C, stopping every greenlet of the worker;
    here each attempt fails at once and the wait between attempts is gevent's, up to the same
    limit. (The service's own writers never meet the lock: the write gate queues them first.)"""
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + busy_timeout_ms / 1000
        pause = 0.001
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _sqlite_locked(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))  # gevent's sleep here
            pause = min(pause * 2, 0.05)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


def init_db(app: Flask) -> Database:
    """Create the application's database handle and close per-request sessions at teardown."""
    database = Database(
        app.config["DATABASE_URL"],
        busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
        pool_size=app.config["DB_POOL_SIZE"],
        sqlite_synchronous=app.config["SQLITE_SYNCHRONOUS"],
        sqlite_checkpoint_interval=app.config["SQLITE_CHECKPOINT_INTERVAL_MS"] / 1000,
        statement_timeout_ms=app.config["DB_STATEMENT_TIMEOUT_MS"],
        lock_timeout_ms=app.config["DB_LOCK_TIMEOUT_MS"],
    )
    app.extensions["database"] = database

    @app.teardown_appcontext
    def close_sessions(_exc: BaseException | None) -> None:
        for key in ("db_reader", "db_writer"):
            session = g.pop(key, None)
            if session is not None:
                session.close()

    return database


def get_database(app: Flask) -> Database:
    """The database handle of ``app``."""
    return app.extensions["database"]


def request_session(write: bool = False) -> so.Session:
    """The current request's reading or writing session, opened on first use and closed at
    teardown. Reads that a write depends on may happen in the reader: the write re-checks
    them (see ``services.episodes.apply_step``)."""
    key = "db_writer" if write else "db_reader"
    session = g.get(key)
    if session is None:
        session = get_database(current_app).session(write)
        setattr(g, key, session)
    return session
