"""``codereview abandon-idle``: mark episodes nobody has stepped for a while abandoned."""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

import click
import sqlalchemy.exc
from flask import current_app
from flask.cli import with_appcontext

from app.db import get_database
from app.services.maintenance import abandon_idle_episodes


@click.command("abandon-idle")
@click.option("--older-than", "older_than", type=click.IntRange(min=1), default=None, metavar="SECONDS",
              help="idle time after which a running episode is abandoned "
                   "(default: IDLE_EPISODE_SECONDS, 3600)")
@with_appcontext
def command(older_than: Optional[int]) -> None:
    """Mark running episodes with no step for SECONDS abandoned (they are kept, never deleted)."""
    seconds = older_than if older_than is not None else int(current_app.config["IDLE_EPISODE_SECONDS"])
    try:
        with get_database(current_app).transaction() as db:
            count = abandon_idle_episodes(db, timedelta(seconds=seconds))
    except sqlalchemy.exc.OperationalError as exc:
        raise click.ClickException(f"the database is unavailable: {exc.orig or exc}") from None
    click.echo(f"{count} episodes idle for more than {seconds} s marked abandoned")
