"""Shared fixtures and helpers.

Database tests run on SQLite always and on Postgres when it is reachable at
``TEST_DATABASE_URL`` (default: the local server's ``test`` database). With ``CI=true`` an
unreachable Postgres fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest
import sqlalchemy as sa

from app import devserver
from app.devserver import LocalServer, free_port, migrate  # noqa: F401  (re-exported for tests)
from app.env import CodeIssue, CodeReviewerAction, CodeReviewerEnv, IssueType, Severity, load_registry

ROOT = Path(__file__).resolve().parents[1]
TASK_NAMES = load_registry().names()
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def report(line: int, issue_type: IssueType | str, severity: Severity | str = "high",
           confidence: float | None = None) -> CodeReviewerAction:
    """An ``identify_issue`` action."""
    return CodeReviewerAction(
        action_type="identify_issue",
        issue=CodeIssue(line_number=line, issue_type=IssueType(issue_type),
                        severity=Severity(severity), description="reported in a test"),
        confidence=confidence,
    )


HINT = CodeReviewerAction(action_type="request_hint")
SUBMIT = CodeReviewerAction(action_type="submit_review")


@pytest.fixture(params=TASK_NAMES)
def task_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def env(task_name: str) -> CodeReviewerEnv:
    environment = CodeReviewerEnv(task_name=task_name)
    environment.reset()
    return environment


# ---------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


def postgres_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)


def postgres_available() -> str | None:
    """None when reachable, else the reason."""
    try:
        engine = sa.create_engine(postgres_admin_url(), poolclass=sa.pool.NullPool,
                                  connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"Postgres unreachable at {postgres_admin_url()}: {exc.__class__.__name__}"
    return None


def require_postgres() -> None:
    reason = postgres_available()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: Postgres tests must run)")
    pytest.skip(reason)


def create_postgres_database(prefix: str = "crtest") -> tuple[str, Callable[[], None]]:
    """Create an empty database on the test Postgres; return its URL and a function that drops it."""
    return devserver.create_postgres_database(postgres_admin_url(), prefix)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated Postgres database for this test run."""
    require_postgres()
    url, drop = create_postgres_database()
    migrate(url)
    yield url
    drop()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A migrated Postgres database of this test's own (dropped afterwards)."""
    require_postgres()
    url, drop = create_postgres_database()
    try:
        migrate(url)
        yield url
    finally:
        drop()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database of this test's own (a copy of the template)."""
    path = tmp_path / "test.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


TABLES = ("episode_issues", "steps", "episodes", "sessions")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A fresh, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE sessions SET current_episode_id = NULL"))
        connection.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def app(database_url: str):  # type: ignore[no-untyped-def]
    from app import create_app

    application = create_app({"TESTING": True, "DATABASE_URL": database_url})
    yield application
    application.extensions["database"].dispose()


@pytest.fixture
def make_app(database_url: str):  # type: ignore[no-untyped-def]
    """Build apps over the test database with extra settings: ``make_app(API_KEYS="k")``."""
    from app import create_app

    built = []

    def build(**settings):  # type: ignore[no-untyped-def]
        application = create_app({"TESTING": True, "DATABASE_URL": database_url, **settings})
        built.append(application)
        return application

    yield build
    for application in built:
        application.extensions["database"].dispose()


@pytest.fixture
def serve():  # type: ignore[no-untyped-def]
    """Serve apps with Werkzeug in a thread (WebSocket included); returns ``host:port``."""
    import threading

    from werkzeug.serving import make_server

    running = []

    def start(application) -> str:  # type: ignore[no-untyped-def]
        server = make_server("127.0.0.1", 0, application, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"127.0.0.1:{server.server_port}"

    yield start
    for server, thread in running:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


# ---------------------------------------------------------------------- live servers


class LiveServer(LocalServer):
    """gunicorn serving the app on a free loopback port (see ``app.devserver``)."""


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    """gunicorn with two workers over a fresh SQLite database."""
    path = tmp_path_factory.mktemp("live") / "live.db"
    shutil.copy(sqlite_template, path)
    server = LiveServer(f"sqlite:///{path}", extra_env={"SERVED_BY_HEADER": "1"})
    yield server
    server.stop()
