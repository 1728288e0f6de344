"""``codereview replay``: re-run stored episodes and compare every reward."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.progress import track

from app.commands._output import emit
from app.db import get_database
from app.services import replay as replay_service


@click.command("replay")
@click.argument("episode_id", required=False)
@click.option("--all", "audit_all", is_flag=True, help="replay every finished episode")
@click.option("--since", type=click.DateTime(), default=None, help="with --all: created at or after (UTC)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def command(episode_id: Optional[str], audit_all: bool, since: Optional[datetime], fmt: str) -> None:
    """Replay EPISODE_ID step by step, or audit many with --all; exit 1 on any divergence."""
    if bool(episode_id) == audit_all:
        raise click.UsageError("give an EPISODE_ID or --all")
    database, registry = get_database(current_app), current_app.extensions["registry"]
    if episode_id:
        with database.session() as db:
            report = replay_service.replay_episode(db, registry, episode_id)
        if fmt == "json":
            emit([report], "json")
        else:
            emit(({"step": s["index"], "action": s["action"].get("action_type"),
                   "recorded": s["recorded_reward"], "replayed": s["replayed_reward"],
                   "identical": s["identical"]} for s in report["steps"]), "table",
                 title=f"episode {episode_id}: {'identical' if report['identical'] else 'DIVERGED'}")
        sys.exit(0 if report["identical"] else 1)

    diverged: list[str] = []
    with database.session() as reader, database.session() as db:
        total = replay_service.count_episodes(reader, since)
        for key in track(replay_service.episode_ids(reader, since), total=total, description="replaying",
                         console=None, transient=True):
            if not replay_service.replay_episode(db, registry, key)["identical"]:
                diverged.append(key)
            db.expunge_all()
    click.echo(f"{total} episodes replayed, {len(diverged)} diverged")
    for key in diverged:
        click.echo(f"DIVERGED {key}")
    sys.exit(1 if diverged else 0)
