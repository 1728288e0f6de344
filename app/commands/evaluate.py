"""``codereview evaluate``: play N episodes of an agent per task and print its metrics.

In-process by default (episodes stored in this application's database, ``DATABASE_URL``), or
through a server with ``--url`` (episodes stored there).
"""

from __future__ import annotations

import json
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.agents.registry import agent_names, make_agent, requires_answer_key
from app.client import TRANSPORTS, ClientError
from app.commands._output import emit
from app.db import get_database
from app.env import SPLITS, ReviewResult
from app.errors import DomainError
from app.services.evaluation import EpisodeRunner, LocalRunner, RemoteRunner, evaluate


@click.command("evaluate")
@click.option("--agent", "agent_name", required=True, help=f"agent to run: {', '.join(agent_names())}")
@click.option("--task", "tasks", multiple=True, help="task to play (repeatable; default: every task)")
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@click.option("--episodes", type=click.IntRange(min=1), default=50, show_default=True, help="episodes per task")
@click.option("--seed-start", type=click.IntRange(min=0), default=0, show_default=True,
              help="seed of the first episode; episode i uses seed-start + i")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="episodes played at once")
@click.option("--url", default=None, help="play on this server (episodes stored there) instead of in-process")
@click.option("--transport", type=click.Choice(TRANSPORTS), default="http", show_default=True,
              help="with --url: REST or WebSocket")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@with_appcontext
def command(agent_name: str, tasks: tuple[str, ...], split: str, episodes: int, seed_start: int,
            workers: int, url: Optional[str], transport: str, fmt: str) -> None:
    """Run an agent on each task and print mean / median score, success rate, precision, recall,
    false-positive rate, mean steps and episodes per second."""
    registry = current_app.extensions["registry"]
    try:
        probe = make_agent(agent_name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--agent") from None
    if url and requires_answer_key(probe):
        raise click.UsageError(f"the {agent_name} agent reads the answer key: it runs in-process only, "
                               "never with --url")
    for task in tasks:
        try:
            registry.get(task)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--task") from None
    runner: EpisodeRunner = (RemoteRunner(url, transport) if url
                             else LocalRunner(get_database(current_app), registry))
    chosen = list(tasks) or registry.names()

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True)) as progress:
        bars = {task: progress.add_task(f"{agent_name} on {task}", total=episodes) for task in chosen}

        def advance(task: str, _result: ReviewResult) -> None:
            progress.advance(bars[task])

        try:
            report = evaluate(runner, agent_name, chosen, split=split, episodes=episodes,
                              seed_start=seed_start, workers=workers, on_episode=advance)
        except (ClientError, DomainError) as exc:
            raise click.ClickException(f"the evaluation stopped: {exc}") from exc

    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    rows = ({"task": m.task, "episodes": m.episodes, "mean score": m.mean_completion_score,
             "median score": m.median_completion_score, "success": m.success_rate, "precision": m.precision,
             "recall": m.recall, "FP rate": m.false_positive_rate, "mean steps": m.mean_steps,
             "episodes/s": m.episodes_per_second} for m in report.tasks)
    emit(rows, "table", title=f"{report.agent} ({report.model}), split {report.split}, {report.where}")
