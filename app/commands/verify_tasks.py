"""``codereview verify-tasks``: prove the corpus.

``--catalogue`` checks every candidate site of every base module and writes
``tasks/corpus/verified.json`` (what the generator plants from). ``--task T --seeds 0:500``
generates those episodes and re-checks every planted issue on the final code. Both print a table
per operator (generated, verified, discarded, seconds); the command exits 1 if an episode's planted
issue is not confirmed or a decoy is flagged.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.progress import track

from app.commands._output import emit
from app.corpus.verify import VerificationReport, build_catalogue, module_of, verify_episode
from app.env.tasks import SPLITS, default_tasks_dir


def _seed_range(text: str) -> range:
    start, _, stop = text.partition(":")
    return range(int(start or 0), int(stop))


@click.command("verify-tasks")
@click.option("--catalogue", is_flag=True, help="verify base module sites (those whose code changed) and write verified.json")
@click.option("--force", is_flag=True, help="with --catalogue: re-verify every module, changed or not")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--task", "tasks", multiple=True, help="task to verify episodes of (repeatable; default all)")
@click.option("--seeds", default=None, help="seed range START:STOP of generated episodes to verify")
@click.option("--split", type=click.Choice(SPLITS), default=None, help="only this split (default all)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def command(catalogue: bool, force: bool, workers: int, tasks: tuple[str, ...], seeds: Optional[str], split: Optional[str], fmt: str) -> None:
    """Verify the corpus: base module sites (--catalogue) and/or generated episodes (--seeds)."""
    registry = current_app.extensions["registry"]
    modules = registry.generator.modules if registry.generator else []
    failures: list[str] = []
    if catalogue:
        report = VerificationReport()
        began = time.perf_counter()
        path = default_tasks_dir() / "corpus" / "verified.json"
        previous = None if force or not path.is_file() else json.loads(path.read_text(encoding="utf-8"))
        document = build_catalogue(modules, report, previous=previous, workers=workers)
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        click.echo(f"{len(modules)} base modules verified in {time.perf_counter() - began:.1f} s -> {path}")
        emit(report.rows(), fmt, title="catalogue: sites per operator")
        failures += report.failures
        registry = type(registry).from_directory(default_tasks_dir())
    if seeds:
        names = list(tasks) or registry.names()
        splits = [split] if split else list(SPLITS)
        for name in names:
            report = VerificationReport()
            jobs = [(seed, sp) for sp in splits for seed in _seed_range(seeds)]
            for seed, sp in track(jobs, description=f"verifying {name}", transient=True):
                episode = registry.episode(name, seed=seed, split=sp)
                verify_episode(episode, module_of(modules, episode), report)
            emit(report.rows(), fmt, title=f"{name}: planted issues of seeds {seeds} ({', '.join(splits)})")
            failures += report.failures
    for failure in failures:
        click.echo(f"FAIL {failure}")
    if not catalogue and not seeds:
        raise click.UsageError("give --catalogue and/or --seeds")
    sys.exit(1 if failures else 0)
