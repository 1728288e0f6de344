"""Local gunicorn servers for tests, benchmarks and the validation script.

``LocalServer`` runs this checkout under gunicorn (with ``gunicorn.conf.py``) on a free loopback
port and stops it on ``stop()``; ``LocalServer.with_temporary_database()`` migrates a fresh SQLite
file first. Only loopback addresses are used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import requests

from app.config import PROJECT_ROOT


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrate(database_url: str) -> None:
    """``alembic upgrade head`` on ``database_url``.

    Raises:
        RuntimeError: the migration failed.
    """
    result = subprocess.run([sys.executable, "-m", "alembic", "-x", f"url={database_url}", "upgrade", "head"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"alembic upgrade head failed: {result.stderr[-1000:]}")


def create_postgres_database(admin_url: str, prefix: str = "codereview") -> tuple[str, Callable[[], None]]:
    """Create an empty database on the Postgres server of ``admin_url``.

    Returns:
        Its URL and a function that drops it (closing any connection still open to it).
    """
    import uuid

    import sqlalchemy as sa

    admin = sa.make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin.set(database=name).render_as_string(hide_password=False), drop


def wait_until_healthy(url: str, process: "subprocess.Popen[bytes]", timeout: float, name: str,
                       output: Callable[[], str]) -> None:
    """Poll ``url``'s ``/health`` until it answers 200.

    Raises:
        RuntimeError: ``process`` exited first (the message ends with ``output()``), or
            ``timeout`` seconds passed.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {output()[-2000:]}")
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready")


def stop_process(process: "subprocess.Popen[bytes]", timeout: float) -> None:
    """TERM ``process``, then KILL it if it has not exited after ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LocalServer:
    """gunicorn serving the app on a free loopback port."""

    def __init__(self, database_url: str, workers: int = 2, threads: int = 8,
                 extra_env: Optional[dict[str, str]] = None, ready_timeout: float = 30.0,
                 cleanup: Optional[Path] = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self._cleanup = cleanup
        env = dict(os.environ, DATABASE_URL=database_url, GUNICORN_BIND=f"127.0.0.1:{self.port}",
                   GUNICORN_WORKERS=str(workers), GUNICORN_THREADS=str(threads),
                   GUNICORN_LOG_LEVEL="warning", **(extra_env or {}))
        self.log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py")],
            cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready(ready_timeout)
        except RuntimeError:
            self.stop()
            raise

    @classmethod
    def with_temporary_database(cls, **options: object) -> "LocalServer":
        """A server over a freshly migrated SQLite file, deleted on ``stop()``."""
        directory = Path(tempfile.mkdtemp(prefix="codereview-server-"))
        url = f"sqlite:///{directory / 'codereview.db'}"
        try:
            migrate(url)
        except RuntimeError:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cls(url, cleanup=directory, **options)  # type: ignore[arg-type]

    def _wait_ready(self, timeout: float) -> None:
        wait_until_healthy(self.url, self.process, timeout, "gunicorn", self.output)

    def output(self) -> str:
        """What gunicorn printed so far."""
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        """Stop gunicorn (TERM, then KILL after 15 s) and remove a temporary database."""
        stop_process(self.process, timeout=15)
        self.log.close()
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
