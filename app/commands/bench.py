"""``codereview bench``: benchmarks that print their figures.

``codereview bench analytics --steps 1000000 [--db sqlite|postgres]`` fills a fresh database
(a temporary SQLite file, or a temporary database on the Postgres server of ``--postgres-url``)
with synthetic episodes, then times each analytics query.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import click
import sqlalchemy as sa

from app.commands._output import emit
from app.models import Episode, EpisodeIssue, EpisodeStatus, Session, Step
from app.services.analytics import QUERIES, Filters, run_query

AGENTS = (("static", "static-v1"), ("random", "random-v1"), ("llm", "qwen-72b"), ("llm", "llama-70b"),
          ("oracle", "oracle-v1"))
TASKS = (("syntax_check", 15, 7), ("logic_bug_detection", 18, 3), ("security_audit", 25, 9))
KINDS = {"syntax_check": ("missing-colon", "unclosed-paren", "bad-indent", "missing-comma"),
         "logic_bug_detection": ("off-by-one", "flipped-comparison", "wrong-accumulator"),
         "security_audit": ("CWE-89", "CWE-78", "CWE-79", "CWE-502", "CWE-22", "CWE-798")}


@click.group("bench")
def command() -> None:
    """Benchmarks (each prints its figures)."""


def _synthetic(steps_wanted: int, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    made = 0
    while made < steps_wanted:
        task, max_steps, expected = rng.choice(TASKS)
        agent, model = rng.choice(AGENTS)
        count = min(rng.randint(2, max_steps), steps_wanted - made) or 1
        made += count
        episode_id = str(uuid.UUID(int=rng.getrandbits(128)))
        created = start + timedelta(seconds=rng.randint(0, 30 * 86400))
        finished = rng.random() < 0.9
        found = rng.randint(0, min(expected, count))
        reports = rng.randint(found, count)
        score = round(rng.random(), 6) if finished else None
        episode = {
            "id": episode_id, "session_id": "bench", "task": task, "seed": rng.randint(0, 10**6),
            "split": rng.choice(("train", "train", "validation", "test")), "code": "# synthetic\n",
            "file_name": "synthetic.py",
            "status": EpisodeStatus.FINISHED if finished else EpisodeStatus.RUNNING,
            "agent": agent, "model": model, "step_count": count, "max_steps": max_steps,
            "cumulative_reward": round(rng.uniform(-1, 4), 6), "completion_score": score,
            "success": (score >= 0.7) if score is not None else None, "reports": reports,
            "issues_found": found, "issues_expected": expected, "false_positives": reports - found,
            "duplicates": rng.randint(0, 2), "decoys_flagged": rng.randint(0, 1), "hints_used": rng.randint(0, 3),
            "state": {}, "result": None, "created_at": created, "updated_at": created,
            "finished_at": created + timedelta(minutes=5) if finished else None,
        }
        step_rows = [{
            "episode_id": episode_id, "index": index, "action_type": "identify_issue",
            "action": {"action_type": "identify_issue"}, "outcome": rng.choice(("match", "false_positive")),
            "confidence": round(rng.random(), 3), "reward": 0.4, "breakdown": {"issue_found": 0.4},
            "changes": {}, "done": index == count, "created_at": created,
        } for index in range(1, count + 1)]
        issue_rows = [{
            "episode_id": episode_id, "issue_id": f"i{n}", "kind": rng.choice(KINDS[task]), "cwe": None,
            "issue_type": "syntax_error", "severity": "high", "found": n < found,
            "found_at_step": rng.randint(1, count) if n < found else None,
        } for n in range(expected)] if finished else []
        yield episode, step_rows, issue_rows


def _fill(engine: sa.Engine, steps: int, batch: int = 20000) -> tuple[int, int]:
    episodes_total = 0
    with engine.begin() as connection:
        connection.execute(sa.insert(Session), [{"id": "bench", "transport": "bench",
                                                 "created_at": datetime.now(timezone.utc),
                                                 "updated_at": datetime.now(timezone.utc)}])
    episodes, step_rows, issue_rows = [], [], []

    def flush() -> None:
        with engine.begin() as connection:
            if episodes:
                connection.execute(sa.insert(Episode), episodes)
            if step_rows:
                connection.execute(sa.insert(Step), step_rows)
            if issue_rows:
                connection.execute(sa.insert(EpisodeIssue), issue_rows)
        episodes.clear(), step_rows.clear(), issue_rows.clear()

    with click.progressbar(length=steps, label="filling") as bar:
        for episode, ep_steps, ep_issues in _synthetic(steps, seed=7):
            episodes.append(episode)
            step_rows.extend(ep_steps)
            issue_rows.extend(ep_issues)
            episodes_total += 1
            bar.update(len(ep_steps))
            if len(step_rows) >= batch:
                flush()
        flush()
    return episodes_total, steps


@command.command("analytics")
@click.option("--steps", type=click.IntRange(min=100), default=1_000_000, show_default=True)
@click.option("--db", "backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True)
@click.option("--postgres-url", default=lambda: os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"), show_default="local server")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True)
def bench_analytics(steps: int, backend: str, postgres_url: str, repeat: int) -> None:
    """Fill a fresh database with STEPS synthetic steps and time every analytics query."""
    from alembic import command as alembic_command
    from alembic.config import Config

    from app.config import PROJECT_ROOT

    cleanup = None
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="codereview-bench-")
        url = f"sqlite:///{folder}/bench.db"
    else:
        admin = sa.make_url(postgres_url)
        name = f"codereview_bench_{uuid.uuid4().hex[:8]}"
        admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin_engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = admin.set(database=name).render_as_string(hide_password=False)

        def cleanup() -> None:
            with admin_engine.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    try:
        config = Config(str(PROJECT_ROOT / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", url)
        config.attributes["configure_logger"] = False
        alembic_command.upgrade(config, "head")
        engine = sa.create_engine(url)
        began = time.perf_counter()
        episodes, _ = _fill(engine, steps)
        fill_seconds = time.perf_counter() - began
        if backend == "postgres":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE"))
        else:
            with engine.begin() as connection:
                connection.execute(sa.text("ANALYZE"))
        rows = []
        with sa.orm.Session(engine) as db:
            for name in QUERIES:
                timings = []
                for _ in range(repeat):
                    began = time.perf_counter()
                    result = run_query(db, name, Filters())
                    timings.append((time.perf_counter() - began) * 1000)
                rows.append({"query": name, "rows": len(result), "best_ms": round(min(timings), 1),
                             "median_ms": round(statistics.median(timings), 1)})
        engine.dispose()
        click.echo(f"{backend}: {steps:,} steps in {episodes:,} episodes, filled in {fill_seconds:.1f} s "
                   f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
        emit(rows, "table", title=f"analytics over {steps:,} steps ({backend})")
    finally:
        if cleanup is not None:
            cleanup()
