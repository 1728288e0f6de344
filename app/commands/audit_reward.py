"""``codereview audit-reward``: the reward-hacking panel as a table; exit 1 when a threshold falls.

Rows are policies, columns tasks; a cell shows the mean ``completion_score`` and the success
rate over the episodes, then a mark: ``ok`` thresholded and within the thresholds, ``FAIL``
thresholded and above one, ``high`` expected high (not thresholded), nothing when only shown;
``–`` where the policy reports nothing the task plants.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.commands._output import emit
from app.env import SPLITS, load_registry
from app.env.tasks import default_tasks_dir
from app.services.audit import (
    MAX_MEAN,
    MAX_SUCCESS,
    AuditCell,
    AuditReport,
    Thresholds,
    audit_reward,
    choose_policies,
    default_panel,
)

NOT_PLAYED = "–"


def _names(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values, in order, without repeats."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return list(dict.fromkeys(names))


def _cell_text(cell: Optional[AuditCell]) -> str:
    if cell is None:
        return NOT_PLAYED
    mark = "FAIL" if cell.crossed else "ok" if cell.thresholded else "high" if cell.expected_high else ""
    return f"{cell.metrics.mean_completion_score:.3f} {cell.metrics.success_rate:4.0%} {mark}".rstrip()


def print_table(report: AuditReport) -> None:
    """The panel as a rich table (policies by tasks), its legend and the crossed cells."""
    rows = []
    for policy in report.policies:
        row = {"policy": policy["name"], "role": policy["role"]}
        row.update({task: _cell_text(report.cell(policy["name"], task)) for task in report.tasks})
        rows.append(row)
    last = report.seed_start + report.episodes - 1
    secret = {"none": "", "random": ", under a random episode secret",
              "given": ", under the given episode secret"}[report.episode_secret]
    emit(rows, "table", title=f"audit-reward: split {report.split}{secret}, {report.episodes} episodes per "
                              f"cell (seeds {report.seed_start}-{last}), {report.seconds:.1f} s")
    limits = report.thresholds
    click.echo(f"Cells: mean completion_score, success rate. ok / FAIL: thresholded (mean <= "
               f"{limits.max_mean:.2f} and success <= {limits.max_success:.0%}); high: expected high, "
               f"not thresholded; {NOT_PLAYED}: the policy reports nothing this task plants.")
    for cell in report.crossed():
        click.echo(f"FAIL {cell.policy} on {cell.task}: mean {cell.metrics.mean_completion_score:.3f}, "
                   f"success {cell.metrics.success_rate:.0%}")


@click.command("audit-reward")
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@click.option("--episodes", type=click.IntRange(min=1), default=40, show_default=True, help="episodes per cell")
@click.option("--seed-start", type=click.IntRange(min=0), default=0, show_default=True,
              help="seed of the first episode; episode i uses seed-start + i")
@click.option("--tasks", "--task", "tasks", multiple=True,
              help="tasks to play (repeatable or comma-separated; default: every task)")
@click.option("--policy", "policies", multiple=True,
              help="policies to play (repeatable or comma-separated; default: the whole panel)")
@click.option("--max-mean", type=click.FloatRange(0, 1), default=MAX_MEAN, show_default=True,
              help="highest mean completion_score of a thresholded cell")
@click.option("--max-success", type=click.FloatRange(0, 1), default=MAX_SUCCESS, show_default=True,
              help="highest success rate of a thresholded cell")
@click.option("--episode-secret", default=None,
              help="secret the test split is played under, to reproduce a run (default: a random one)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@with_appcontext
def command(split: str, episodes: int, seed_start: int, tasks: tuple[str, ...], policies: tuple[str, ...],
            max_mean: float, max_success: float, episode_secret: Optional[str], fmt: str) -> None:
    """Play the reward-hacking panel (adversarial policies, the memorisation ceiling and the
    references) on each task; exit 1 when a thresholded cell crosses a threshold."""
    # The engine's own registry: the panel plays in-process and stores nothing, so it needs no
    # database.
    tasks_dir = current_app.config.get("TASKS_DIR")
    registry = load_registry(tasks_dir)
    chosen_tasks = _names(tasks) or registry.names()
    for task in chosen_tasks:
        try:
            registry.get(task)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--tasks") from None
    try:
        panel = choose_policies(default_panel(registry, Path(tasks_dir or default_tasks_dir()) / "corpus"),
                                _names(policies))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from None
    specs = [registry.get(task) for task in chosen_tasks]
    total = episodes * sum(policy.plays(task) for policy in panel for task in specs)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True)) as progress:
        bar = progress.add_task("audit-reward", total=total)
        report = audit_reward(registry, tasks=chosen_tasks, split=split, episodes=episodes, seed_start=seed_start,
                              policies=panel, thresholds=Thresholds(max_mean, max_success),
                              episode_secret=episode_secret.encode("utf-8") if episode_secret else None,
                              on_episode=lambda policy, task: progress.advance(bar))

    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_table(report)
    if report.crossed():
        raise SystemExit(1)
