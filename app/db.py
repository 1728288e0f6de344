"""Database plumbing: the declarative base, the engine and the session factory.

``init_db(app)`` builds one engine per application from ``DATABASE_URL``. SQLite gets WAL mode,
foreign keys and a busy timeout on every new connection; Postgres gets pre-ping so a dropped
connection is replaced instead of failing a request.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app, g

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


class Database:
    """One engine and session factory, owned by an application."""

    def __init__(
        self, url: str, busy_timeout_ms: int = 5000, pool_size: int = 10,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        self.url = sa.engine.make_url(url)
        options: dict[str, Any] = {}
        if self.is_sqlite:
            options["connect_args"] = {"check_same_thread": False}
        else:
            options.update(pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
        self.engine = sa.create_engine(self.url, **options)
        if self.is_sqlite:
            sa.event.listen(
                self.engine, "connect", _sqlite_pragmas(busy_timeout_ms, sqlite_synchronous)
            )
            # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that a
            # transaction covers the reads it validates (see SQLAlchemy's pysqlite notes).
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self.sessionmaker = so.sessionmaker(self.engine, expire_on_commit=False)
        # Writers take SQLite's write lock at BEGIN: a read-then-write transaction that
        # upgraded later could fail with SQLITE_BUSY instead of waiting its turn.
        self.writer_sessionmaker = so.sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )

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

    def ping(self) -> None:
        """Run a trivial query; raises when the database is unreachable."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        """Close pooled connections (tests, forks)."""
        self.engine.dispose()


def _sqlite_pragmas(busy_timeout_ms: int, synchronous: str):  # type: ignore[no-untyped-def]
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
        cursor.close()

    return on_connect


def _sqlite_begin(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def init_db(app: Flask) -> Database:
    """Create the application's database handle and close per-request sessions at teardown."""
    database = Database(
        app.config["DATABASE_URL"],
        busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
        pool_size=app.config["DB_POOL_SIZE"],
        sqlite_synchronous=app.config["SQLITE_SYNCHRONOUS"],
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
