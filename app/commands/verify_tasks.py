"""``codereview verify-tasks``: prove the corpus.

``--catalogue`` checks every candidate site of every base module and writes
``tasks/corpus/verified.json`` (what the generator plants from), and the catalogue of each
hold-out directory beside it (or in ``CODEREVIEW_HOLDOUT_CATALOGUE_DIR``), never into the project.
``--module NAME`` (or a module folder's path) checks one module and prints what it can plant per
task. ``--task T --seeds 0:500`` generates those episodes and re-checks every planted issue on the
final code. Each prints a table per operator (generated, verified, discarded, seconds); the command
exits 1 if an episode's planted issue is not confirmed, a decoy is flagged or a module is invalid.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.progress import track

from app.commands._output import emit
from app.corpus.similarity import NEAR_DUPLICATE, closest_elsewhere
from app.corpus.verify import VerificationReport, build_catalogue, module_of, verify_episode, verify_module
from app.env import HoldoutUnavailable, TaskRegistry
from app.env.corpus.generator import SPARE_SITES, Catalogue, Generator
from app.env.corpus.holdout import HOLDOUT_SPLIT, holdout_dirs, validate_module_folder
from app.env.corpus.modules import BaseModule, load_module
from app.env.corpus.pull_requests import PullRequests
from app.env.tasks import SPLITS, default_tasks_dir


def _seed_range(text: str) -> range:
    start, _, stop = text.partition(":")
    return range(int(start or 0), int(stop))


def _write_catalogue(path: Path, modules: list[BaseModule], report: VerificationReport, force: bool,
                     workers: int) -> None:
    previous = None if force or not path.is_file() else json.loads(path.read_text(encoding="utf-8"))
    document = build_catalogue(modules, report, previous=previous, workers=workers)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _tasks_dir() -> Path:
    """The application's task data folder."""
    return Path(current_app.config.get("TASKS_DIR") or default_tasks_dir())


def reloaded(registry: TaskRegistry) -> TaskRegistry:
    """The application's registry read again from disk (modules and catalogues written since the
    process read it), with the same hold-out directories and episode secret."""
    config = current_app.config
    loaded = TaskRegistry.from_directory(
        _tasks_dir(), holdout_dirs(config.get("HOLDOUT_DIR")),
        Path(config["HOLDOUT_CATALOGUE_DIR"]) if config.get("HOLDOUT_CATALOGUE_DIR") else None)
    return loaded.with_episode_secret(registry.episode_secret_source)


def plantable(registry: TaskRegistry, module: BaseModule, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Per task: the module's verified lines per category against what the task needs, and
    whether the module can carry the task's episodes."""
    generator = Generator([module], Catalogue({module.name: entry}))
    pull_requests = PullRequests(generator)
    rows = []
    for task in registry.tasks():
        mix = dict(task.mix)
        counts = {kind.value: len({site.line for site in generator.sites(module, kind, module.split)})
                  for kind in mix}
        needs = {kind.value: count for kind, count in generator.needed(mix).items()}
        carries = generator.eligible(mix, module.split)
        if task.pull_request is not None:
            counts["benign"] = len({site.line for site in pull_requests.benign_sites(module)})
            needs["benign"] = task.pull_request.benign + SPARE_SITES
            carries = pull_requests.eligible(task.pull_request, module.split)
        rows.append({"task": task.name, "split": module.split,
                     "verified lines": ", ".join(f"{kind} {counts[kind]} (needs {needs[kind]})" for kind in counts),
                     "can carry": "yes" if carries else "no"})
    return rows


def _find_module(registry: TaskRegistry, name: str) -> tuple[Optional[BaseModule], list[str]]:
    """The module called ``name`` (public or hold-out), or the one in folder ``name``; else why not."""
    folder = Path(name)
    if folder.is_dir() and (folder / "module.toml").is_file():
        problems = validate_module_folder(folder)
        if problems:
            return None, problems
        module = load_module(folder)
        held_out = any(folder.resolve().parent == directory.folder.resolve()
                       for directory in registry.holdout.directories)
        return (dataclasses.replace(module, split=HOLDOUT_SPLIT) if held_out else module), []
    modules = registry.generator.modules if registry.generator else []
    for module in modules:
        if module.name == name:
            return module, []
    problems = [problem for problem in registry.holdout.problems if name in problem]
    return None, problems or [f"no base module called {name!r} (give its name or its folder's path)"]


@click.command("verify-tasks")
@click.option("--catalogue", is_flag=True,
              help="verify base module sites (those whose code changed) and write the catalogues")
@click.option("--force", is_flag=True, help="with --catalogue: re-verify every module, changed or not")
@click.option("--module", "module_name", default=None,
              help="check one module (a name, or a module folder's path) and print what it can plant per task")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--task", "tasks", multiple=True, help="task to verify episodes of (repeatable; default all)")
@click.option("--seeds", default=None, help="seed range START:STOP of generated episodes to verify")
@click.option("--split", type=click.Choice(SPLITS), default=None, help="only this split (default all)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def command(catalogue: bool, force: bool, module_name: Optional[str], workers: int, tasks: tuple[str, ...],
            seeds: Optional[str], split: Optional[str], fmt: str) -> None:
    """Verify the corpus: base module sites (--catalogue, --module) and/or generated episodes (--seeds)."""
    registry: TaskRegistry = current_app.extensions["registry"]
    failures: list[str] = []
    if catalogue:
        registry = reloaded(registry)
        report = VerificationReport()
        began = time.perf_counter()
        holdout = registry.holdout
        held_out = {module.name for module in holdout.modules}
        public = [module for module in (registry.generator.modules if registry.generator else [])
                  if module.name not in held_out]
        path = _tasks_dir() / "corpus" / "verified.json"
        _write_catalogue(path, public, report, force, workers)
        click.echo(f"{len(public)} base modules verified in {time.perf_counter() - began:.1f} s -> {path}")
        for directory in holdout.directories:
            if directory.modules:
                began = time.perf_counter()
                _write_catalogue(directory.catalogue_file, list(directory.modules), report, force, workers)
                click.echo(f"{len(directory.modules)} hold-out modules of {directory.folder} verified in "
                           f"{time.perf_counter() - began:.1f} s -> {directory.catalogue_file}")
        emit(report.rows(), fmt, title="catalogue: sites per operator")
        failures += report.failures + list(holdout.problems)
        registry = reloaded(registry)
    if module_name:
        module, problems = _find_module(registry, module_name)
        if module is None:
            failures += problems
        else:
            report = VerificationReport()
            entry = verify_module(module, report)
            click.echo(f"{module.name} ({module.split}): {len(entry['verified'])} of "
                       f"{len(entry['verified']) + len(entry['discarded'])} candidate sites verified, "
                       f"{len(entry['decoys'])} decoys accepted, {len(entry['decoys_rejected'])} rejected")
            emit(report.rows(), fmt, title=f"{module.name}: sites per operator")
            emit(plantable(registry, module, entry), fmt, title=f"{module.name}: what it can plant per task")
            failures += report.failures
            closest = closest_elsewhere(module, registry.generator.modules if registry.generator else [])
            if closest is not None:
                click.echo(f"most alike module of another split: {closest.second} ({closest.similarity:.2f}; "
                           f"a near copy scores {NEAR_DUPLICATE:.2f} or more)")
                if closest.similarity >= NEAR_DUPLICATE:
                    failures.append(f"{module.name} is a near copy of {closest.second} ({closest.similarity:.2f})")
    if seeds:
        modules = registry.generator.modules if registry.generator else []
        names = list(tasks) or registry.names()
        splits = [split] if split else [name for name in SPLITS if name != HOLDOUT_SPLIT or registry.holdout.configured]
        for name in names:
            report = VerificationReport()
            usable = [sp for sp in splits if registry.split_sizes(name)[sp]]
            if split == HOLDOUT_SPLIT and not usable:
                try:
                    registry.episode(name, seed=0, split=HOLDOUT_SPLIT)
                except HoldoutUnavailable as exc:
                    raise click.ClickException(str(exc)) from None
            jobs = [(seed, sp) for sp in usable for seed in _seed_range(seeds)]
            for seed, sp in track(jobs, description=f"verifying {name}", transient=True):
                episode = registry.episode(name, seed=seed, split=sp)
                verify_episode(episode, module_of(modules, episode), report)
            emit(report.rows(), fmt, title=f"{name}: planted issues of seeds {seeds} ({', '.join(splits)})")
            failures += report.failures
    for failure in failures:
        click.echo(f"FAIL {failure}")
    if not catalogue and not seeds and not module_name:
        raise click.UsageError("give --catalogue, --module and/or --seeds")
    sys.exit(1 if failures else 0)
