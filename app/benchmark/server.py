"""``codereview bench server``: this service under load, beside OpenEnv's server as an anchor.

Every configuration starts from a fresh database and a fresh server process tree on a free
loopback port; the load is bounded in time (see :mod:`app.benchmark.load`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import sqlalchemy as sa

from app.benchmark.load import LoadResult, fresh_seeds, run_load
from app.config import PROJECT_ROOT
from app.devserver import (LocalServer, create_postgres_database, free_port, migrate, stop_process,
                           wait_until_healthy)
from app.serving import is_cooperative


@dataclass(frozen=True)
class ServerOptions:
    """How this service is run for the benchmark."""

    workers: int = 2
    threads: int = 32
    worker_class: str = "gevent"
    worker_connections: int = 2048


def process_tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MiB (Linux ``/proc``)."""
    total_kib, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total_kib += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (OSError, StopIteration, ValueError):
            continue
    return total_kib / 1024


def _name_and_cpu_ticks(stat: str) -> tuple[str, int]:
    """A process's name and user plus system CPU ticks, from its ``/proc/<pid>/stat``."""
    name, _, rest = stat.partition("(")[2].rpartition(")")
    fields = rest.split()
    return name, int(fields[11]) + int(fields[12])  # utime, stime


def process_tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and all its descendants so far (Linux ``/proc``)."""
    ticks, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            ticks += _name_and_cpu_ticks(Path(f"/proc/{current}/stat").read_text())[1]
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def local_postgres_cpu_seconds() -> Optional[float]:
    """User plus system CPU time so far of this machine's Postgres server: every process named
    ``postgres`` (server-wide, so read it with the benchmark alone on the server); None when
    there is none to read (Linux ``/proc``)."""
    ticks, seen = 0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, used = _name_and_cpu_ticks((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
        if name == "postgres":
            ticks, seen = ticks + used, True
    return ticks / os.sysconf("SC_CLK_TCK") if seen else None


@contextmanager
def fresh_database(db: str, postgres_url: str) -> Iterator[str]:
    """A migrated, empty database: a temporary SQLite file or a temporary Postgres database."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="codereview-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            migrate(url)
            yield url
        return
    url, drop = create_postgres_database(postgres_url, prefix="codereview_bench")
    try:
        migrate(url)
        yield url
    finally:
        drop()


@contextmanager
def our_server(database_url: str, options: ServerOptions) -> Iterator[tuple[str, int]]:
    """This service under gunicorn; yields its base URL and master pid."""
    extra_env = {"GUNICORN_WORKER_CLASS": options.worker_class,
                 "GUNICORN_WORKER_CONNECTIONS": str(options.worker_connections)}
    if not is_cooperative(options.worker_class):
        # A threaded worker's sockets beyond its threads then queue for one instead of being refused.
        extra_env["WS_MAX_CONNECTIONS"] = str(max(options.threads, 256))
    server = LocalServer(database_url, workers=options.workers, threads=options.threads, extra_env=extra_env)
    try:
        yield server.url, server.process.pid
    finally:
        server.stop()


@contextmanager
def anchor_server() -> Iterator[tuple[str, int]]:
    """OpenEnv's FastAPI server (uvicorn, one process as OpenEnv deploys it) around the engine in memory."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "app.benchmark.anchor:create_anchor_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=PROJECT_ROOT, env=dict(os.environ, ENABLE_WEB_INTERFACE="false"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_healthy(url, process, 60, "the anchor server",
                           lambda: process.stderr.read().decode())  # type: ignore[union-attr]
        yield url, process.pid
    finally:
        stop_process(process, timeout=15)
        if process.stderr is not None:
            process.stderr.close()


@dataclass(frozen=True)
class Measurement:
    """One configuration's load result and the server's cost for it."""

    load: LoadResult
    rss_mib: float
    cpu_ms_per_step: float
    # The load generator's own CPU per step (this process, which shares the machine's cores).
    load_cpu_ms_per_step: float = float("nan")
    # The database server's CPU per step, where it is measured (see ``measure``).
    database_cpu_ms_per_step: Optional[float] = None

    @property
    def cores_busy(self) -> float:
        """CPU cores kept busy on average by the server, its local database (where measured) and
        the load generator together: the machine's cores bound it."""
        per_step = self.cpu_ms_per_step + self.load_cpu_ms_per_step + (self.database_cpu_ms_per_step or 0.0)
        return per_step * self.load.steps_per_second / 1000


def measure(url: str, pid: int, transport: str, clients: int, seconds: float, anchor: bool,
            database_cpu: Optional[Callable[[], Optional[float]]] = None,
            seeds: Optional[tuple[int, int]] = None) -> Measurement:
    """Warm up briefly, then run the load; returns it with the server's RSS after it, its CPU
    time per step (a figure that, unlike steps/s, holds on a machine busy with other work) and
    the load generator's (this process), and with ``database_cpu`` (a reading of the database
    server's CPU seconds so far) that of the database too. ``seeds``: the first seeds of the
    warm-up and of the run (default: fresh ones, see :func:`~app.benchmark.load.fresh_seeds`)."""
    warm_up, run = seeds or (fresh_seeds(), fresh_seeds())
    run_load(url, transport, min(clients, 4), min(1.0, seconds), anchor=anchor, first_seed=warm_up)
    database_before = database_cpu() if database_cpu else None
    cpu_before = process_tree_cpu_seconds(pid)
    load_before = time.process_time()
    result = run_load(url, transport, clients, seconds, anchor=anchor, first_seed=run)
    load_cpu = time.process_time() - load_before
    cpu = process_tree_cpu_seconds(pid) - cpu_before
    database_after = database_cpu() if database_cpu else None

    def per_step(seconds_used: float) -> float:
        return seconds_used * 1000 / result.steps if result.steps else float("nan")

    database = (per_step(database_after - database_before)
                if database_before is not None and database_after is not None else None)
    return Measurement(result, process_tree_rss_mib(pid), per_step(cpu), per_step(load_cpu), database)


def commit_floor_ms(database_url: str, commits: int = 500) -> float:
    """Median milliseconds of one durable single-row commit on ``database_url`` (the fsync floor):
    an INSERT in autocommit on the driver's connection, one round trip, nothing else timed."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            driver.autocommit = True
            cursor = driver.cursor()
            # A temporary table is not WAL-logged on Postgres: time a real table's commits.
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_commit_floor (n integer)")
            timings = []
            for n in range(commits):
                started = time.perf_counter()
                cursor.execute("INSERT INTO bench_commit_floor (n) VALUES (%s)", (n,))
                timings.append(time.perf_counter() - started)
            cursor.execute("DROP TABLE bench_commit_floor")
        finally:
            raw.close()
        return statistics.median(timings) * 1000
    finally:
        engine.dispose()


def postgres_wal_syncs(database_url: str) -> Optional[int]:
    """The server's count of WAL fsyncs so far (``pg_stat_wal``, server-wide), or None."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT wal_sync FROM pg_stat_wal")).scalar_one())
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def machine_description() -> str:
    """CPU model and count, for the printed table."""
    model = "unknown CPU"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} x {model}, Python {sys.version.split()[0]}"


__all__ = ["Measurement", "ServerOptions", "anchor_server", "commit_floor_ms", "fresh_database",
           "local_postgres_cpu_seconds", "machine_description", "measure", "our_server", "postgres_wal_syncs",
           "process_tree_rss_mib"]
