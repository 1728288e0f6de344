"""``codereview bench``: benchmarks that print their figures.

``codereview bench analytics --steps 1000000 [--db sqlite|postgres]`` fills a fresh database
(a temporary SQLite file, or a temporary database on the Postgres server of ``--postgres-url``)
with synthetic episodes, then times each analytics query.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

import click
import sqlalchemy as sa

from app.benchmark.load import MAX_CLIENTS, LoadResult, fresh_seeds
from app.commands._output import emit
from app.devserver import create_postgres_database, migrate
from app.serving import default_workers
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
    cleanup = None
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="codereview-bench-")
        url = f"sqlite:///{folder}/bench.db"
    else:
        url, cleanup = create_postgres_database(postgres_url, prefix="codereview_bench")

    try:
        migrate(url)
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
        if backend == "sqlite":
            shutil.rmtree(folder, ignore_errors=True)
        click.echo(f"{backend}: {steps:,} steps in {episodes:,} episodes, filled in {fill_seconds:.1f} s "
                   f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
        emit(rows, "table", title=f"analytics over {steps:,} steps ({backend})")
    finally:
        if cleanup is not None:
            cleanup()


def _played_rows(episodes: int, registry: Any, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Real episodes played in-process by a mixed random policy, as rows to insert."""
    from app.env import CodeReviewerAction, CodeReviewerEnv

    rng = random.Random(seed)
    envs = {name: CodeReviewerEnv(task_name=name, registry=registry) for name in registry.names()}
    now = datetime.now(timezone.utc)
    for index in range(episodes):
        env = envs[rng.choice(registry.names())]
        episode_id = f"bench-{index:08d}"
        env.reset(seed=index, episode_id=episode_id)
        truth, line_count = env.ground_truth(), env.episode.line_count
        steps, done = [], False
        while not done:
            if rng.random() < 0.1:
                action = {"action_type": "submit_review"}
            else:
                planted = rng.choice(truth)
                line = planted.line_number if rng.random() < 0.5 else rng.randint(1, line_count)
                action = {"action_type": "identify_issue", "confidence": round(rng.random(), 3), "issue": {
                    "line_number": line, "issue_type": planted.issue_type.value, "severity": "high"}}
            observation, reward, done, info = env.step(CodeReviewerAction.from_dict(action))
            steps.append({"episode_id": episode_id, "index": len(steps) + 1, "action_type": action["action_type"],
                          "action": action, "outcome": info["last_outcome"], "confidence": action.get("confidence"),
                          "reward": reward.step_reward, "breakdown": reward.breakdown,
                          "changes": {"feedback": observation.feedback}, "done": done, "created_at": now})
        result = env.get_review_result()
        snapshot = env.snapshot()
        yield ({
            "id": episode_id, "session_id": "bench", "task": env.task_name, "seed": index, "split": "train",
            "code": env.episode.snippet.code, "file_name": env.episode.snippet.file_name,
            "status": EpisodeStatus.FINISHED, "agent": "bench", "model": "random-mix", "step_count": len(steps),
            "max_steps": env.task.max_steps, "cumulative_reward": result.total_reward,
            "completion_score": result.completion_score, "success": result.success, "state": snapshot,
            "result": result.to_dict(), "created_at": now + timedelta(microseconds=index), "updated_at": now,
            "finished_at": now, "reports": len(snapshot["reports"]), "issues_found": result.found,
            "issues_expected": result.expected, "false_positives": result.false_positives,
            "duplicates": result.duplicates, "decoys_flagged": result.decoys_flagged, "hints_used": result.hints_used,
        }, steps)


def _store_played(url: str, episodes: int) -> None:
    from app.env import load_registry

    migrate(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.insert(Session), [{"id": "bench", "transport": "bench"}])
    batch_episodes: list[dict[str, Any]] = []
    batch_steps: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as connection:
            connection.execute(sa.insert(Episode), batch_episodes)
            connection.execute(sa.insert(Step), batch_steps)
        batch_episodes.clear(), batch_steps.clear()

    with click.progressbar(length=episodes, label="storing") as bar:
        for episode, steps in _played_rows(episodes, load_registry(), seed=3):
            batch_episodes.append(episode)
            batch_steps.extend(steps)
            bar.update(1)
            if len(batch_episodes) >= 2000:
                flush()
        if batch_episodes:
            flush()
    engine.dispose()


@command.command("export")
@click.option("--episodes", type=click.IntRange(min=10), default=100_000, show_default=True)
def bench_export(episodes: int) -> None:
    """Store EPISODES real episodes in a temporary SQLite database, export them all as JSON Lines
    to /dev/null, and print the time and the process's peak RSS after 10% and after 100%."""
    import multiprocessing
    import resource

    from app.env import load_registry
    from app.services.export import iter_records, jsonl_lines

    folder = tempfile.mkdtemp(prefix="codereview-bench-")
    url = f"sqlite:///{folder}/export.db"
    # Storing runs in a child process, so this process's peak RSS measures the export alone.
    child = multiprocessing.get_context("fork").Process(target=_store_played, args=(url, episodes))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise click.ClickException("storing the episodes failed")
    registry = load_registry()
    engine = sa.create_engine(url)

    def peak_mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    checkpoints = {max(1, episodes // 10): "10%", episodes: "100%"}
    figures = []
    began = time.perf_counter()
    written = 0
    with sa.orm.Session(engine) as db, open(os.devnull, "w", encoding="utf-8") as sink:
        for line in jsonl_lines(iter_records(db, registry, Filters())):
            sink.write(line)
            written += 1
            if written in checkpoints:
                figures.append({"exported": written, "at": checkpoints[written],
                                "seconds": round(time.perf_counter() - began, 1), "peak_rss_mib": round(peak_mib(), 1)})
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    click.echo(f"{written:,} episodes exported in {time.perf_counter() - began:.1f} s "
               f"({written / (time.perf_counter() - began):,.0f} episodes/s)")
    emit(figures, "table", title="export memory (peak RSS of this process)")


def _csv(kind: type, choices: tuple[str, ...] = (), most: Optional[int] = None, optional: bool = False) -> Any:
    """A click callback parsing a comma-separated list (``optional``: an empty one is allowed)."""
    def parse(_ctx: Any, _param: Any, value: str) -> list[Any]:
        if optional and not value.strip():
            return []
        try:
            items = [kind(item.strip()) for item in value.split(",") if item.strip()]
        except ValueError:
            items = []
        unknown = [item for item in items if choices and item not in choices]
        if not items or unknown:
            raise click.BadParameter(f"expected a comma-separated list{' of ' + ', '.join(choices) if choices else ''}")
        if most is not None and not all(1 <= item <= most for item in items):
            raise click.BadParameter(f"each must be from 1 to {most}")
        return items
    return parse


@command.command("server")
@click.option("--db", "database", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True)
@click.option("--clients", default="1,16,64", show_default=True, callback=_csv(int, most=MAX_CLIENTS, optional=True),
              help="Comma-separated numbers of concurrent closed-loop clients (empty: no load, for --hold alone).")
@click.option("--transport", default="ws,http", show_default=True, callback=_csv(str, ("ws", "http")))
@click.option("--anchor", type=click.Choice(["openenv", "none"]), default="none", show_default=True,
              help="Also run the same load against OpenEnv's own server around the engine in memory.")
@click.option("--seconds", type=click.FloatRange(min=1, max=300), default=8.0, show_default=True,
              help="Duration of each measurement.")
@click.option("--workers", type=click.IntRange(min=1, max=16), default=None,
              help="gunicorn workers [default: as gunicorn.conf.py, one per CPU core up to 4]")
@click.option("--threads", type=click.IntRange(min=1, max=256), default=32, show_default=True,
              help="Threads per worker (the gthread worker only).")
@click.option("--worker-connections", type=click.IntRange(min=16, max=65536), default=2048, show_default=True,
              help="Connections per worker (a gevent worker; gunicorn.conf.py's default).")
@click.option("--worker-class", default="gevent", show_default=True,
              help="gunicorn worker class (gunicorn.conf.py's default; 'gthread' for gunicorn's threads)")
@click.option("--hold", default="", callback=_csv(int, most=MAX_CLIENTS, optional=True),
              help="Comma-separated numbers of WebSocket sessions to open at once (each a reset and a step, "
                   "all kept open), reporting how many were served within --hold-seconds and the server's "
                   "memory per open session.")
@click.option("--hold-seconds", type=click.FloatRange(min=1, max=300), default=30.0, show_default=True)
@click.option("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres", show_default=True)
@click.option("--rounds", type=click.IntRange(min=1, max=9), default=1, show_default=True,
              help="Measure each configuration this many times (anchor and ours alternating) and print the "
                   "round with the median ratio, with the range of ratios.")
def bench_server(database: str, clients: list[int], transport: list[str], anchor: str, seconds: float,
                 workers: Optional[int], threads: int, worker_connections: int, worker_class: str, hold: list[int],
                 hold_seconds: float, postgres_url: str, rounds: int) -> None:
    """Serve the app under gunicorn on a free loopback port over a fresh database, drive closed-loop
    clients (reset, then steps until done, repeatedly) for SECONDS per configuration, and print
    steps/s, p50/p99 step latency, errors and server RSS, with our/anchor ratios; then each
    server's p50 latency by kind of request (the reset, any step, the step that ends an episode);
    then, with --hold, many sessions open at once on each server."""
    from app.benchmark.server import (
        ServerOptions, anchor_server, commit_floor_ms, fresh_database, machine_description, our_server)
    from app.serving import is_cooperative

    workers = workers or default_workers()
    per_worker = f"{worker_connections} connections" if is_cooperative(worker_class) else f"{threads} threads"
    click.echo(f"machine: {machine_description()}; database: {database}; server: gunicorn {worker_class}, "
               f"{workers} workers x {per_worker}; {seconds:g} s per configuration, {rounds} round(s)")
    options = ServerOptions(workers=workers, threads=threads, worker_class=worker_class,
                            worker_connections=worker_connections)
    rows: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    with ExitStack() as servers:
        database_url = servers.enter_context(fresh_database(database, postgres_url))
        if database == "postgres":
            click.echo(f"durable single-row commit floor: {commit_floor_ms(database_url):.3f} ms (median of 500)")
        url, pid = servers.enter_context(our_server(database_url, options))
        # Both servers run side by side and each configuration is measured on one, then at once
        # on the other: a machine whose speed drifts affects both halves of a ratio alike.
        anchor_url, anchor_pid = servers.enter_context(anchor_server()) if anchor == "openenv" else (None, None)
        # Sessions held at once first, on servers that have served nothing else yet: their memory
        # per session is then not hidden by what a load left allocated and free.
        for count in hold:
            held.extend(_hold_row(name, server_url, server_pid, count, hold_seconds)
                        for name, server_url, server_pid in (("openenv", anchor_url, anchor_pid), ("ours", url, pid))
                        if server_url is not None)
        for kind in transport:
            for count in clients:
                measured = [_measure_pair(database_url, url, pid, anchor_url, anchor_pid, kind, count, seconds)
                            for _ in range(rounds)]
                # The round whose ratio is the median (the middle one by steps/s without an anchor).
                measured.sort(key=lambda row: row.get("ratio") or row["steps/s"])
                row = measured[len(measured) // 2]
                if rounds > 1 and anchor_url:
                    ratios = [other["ratio"] for other in measured if other.get("ratio") is not None]
                    row["ratio range"] = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else None
                rows.append(row)
    by_request = [row.pop("by request") for row in rows]
    if rows:
        emit(rows, "table", title="codereview bench server")
        emit(by_request, "table", title="p50 latency by request, ms: the reset, any step, the step that ends the episode")
    if held:
        emit(held, "table", title=f"WebSocket sessions open at once (each a reset and a step), within {hold_seconds:g} s")


def _hold_row(server: str, url: str, pid: int, count: int, seconds: float) -> dict[str, Any]:
    """One server holding ``count`` sessions at once, as a row."""
    from app.benchmark.load import hold_sessions
    from app.benchmark.server import process_tree_rss_mib

    result = hold_sessions(url, count, seconds, rss=lambda: process_tree_rss_mib(pid))
    if result.first_error:
        click.echo(f"{server} hold {count} first error: {result.first_error}", err=True)
    return {"server": server, "sessions": count, "served": result.served, "refused": result.refused,
            "failed": result.failed, "seconds": round(result.seconds, 2),
            "rss before MiB": round(result.rss_before_mib), "rss held MiB": round(result.rss_held_mib),
            "KiB per session": round(result.kib_per_session, 1)}


def _measure_pair(database_url: str, url: str, pid: int, anchor_url: Optional[str], anchor_pid: Optional[int],
                  kind: str, count: int, seconds: float) -> dict[str, Any]:
    """One round of one configuration: the anchor (if any), then at once this service."""
    from app.benchmark.server import local_postgres_cpu_seconds, measure, postgres_wal_syncs

    # The same episodes for both servers, new to both (see app.benchmark.load).
    seeds = (fresh_seeds(), fresh_seeds())
    theirs = measure(anchor_url, anchor_pid, kind, count, seconds, anchor=True, seeds=seeds) if anchor_url else None
    postgres = database_url.startswith("postgresql")
    local = sa.make_url(database_url).host in (None, "", "127.0.0.1", "localhost", "::1")
    syncs_before = postgres_wal_syncs(database_url) if postgres else None
    ours = measure(url, pid, kind, count, seconds, anchor=False, seeds=seeds,
                   database_cpu=local_postgres_cpu_seconds if postgres and local else None)
    result = ours.load
    syncs_after = postgres_wal_syncs(database_url) if syncs_before is not None else None
    row: dict[str, Any] = {
        "transport": kind, "clients": count, "steps/s": round(result.steps_per_second),
        "p50 ms": round(result.percentile_ms(0.5), 2), "p99 ms": round(result.percentile_ms(0.99), 2),
        "errors": result.errors, "cpu ms/step": round(ours.cpu_ms_per_step, 3), "rss MiB": round(ours.rss_mib)}
    if ours.database_cpu_ms_per_step is not None:
        # The local Postgres server's own CPU, all its processes: it shares the machine's cores.
        row["db cpu ms/step"] = round(ours.database_cpu_ms_per_step, 3)
    if syncs_before is not None and syncs_after is not None:
        # Server-wide count, warm-up included: an upper bound on fsyncs per step.
        row["steps/fsync"] = round(result.steps / max(1, syncs_after - syncs_before), 1)
    row["load cpu ms/step"] = round(ours.load_cpu_ms_per_step, 3)
    row["cores busy"] = round(ours.cores_busy, 2)
    if theirs is not None:
        row.update({"anchor steps/s": round(theirs.load.steps_per_second),
                    "anchor p50 ms": round(theirs.load.percentile_ms(0.5), 2),
                    "anchor p99 ms": round(theirs.load.percentile_ms(0.99), 2),
                    "anchor errors": theirs.load.errors,
                    "anchor cpu ms/step": round(theirs.cpu_ms_per_step, 3),
                    "anchor rss MiB": round(theirs.rss_mib),
                    "anchor cores busy": round(theirs.cores_busy, 2),
                    "ratio": round(result.steps_per_second / theirs.load.steps_per_second, 2)
                    if theirs.load.steps_per_second else None})
        if theirs.load.first_error:
            click.echo(f"anchor {kind}/{count} first error: {theirs.load.first_error}", err=True)
    if result.first_error:
        click.echo(f"{kind}/{count} first error: {result.first_error}", err=True)
    # At one client each request's latency is its whole share of the time: this shows where it goes.
    row["by request"] = {"transport": kind, "clients": count, **_p50_by_request(result, "")}
    if theirs is not None:
        row["by request"].update(_p50_by_request(theirs.load, "anchor "))
    return row


def _p50_by_request(result: LoadResult, prefix: str) -> dict[str, float]:
    """p50 milliseconds of the resets, the steps and the last steps of ``result``, named with ``prefix``."""
    return {f"{prefix}{name}": round(result.percentile_ms(0.5, latencies), 2) for name, latencies in (
        ("reset", result.reset_latencies), ("step", result.latencies), ("last step", result.last_step_latencies))}
