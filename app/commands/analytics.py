"""``codereview analytics <name>``: the analytics queries as a table, JSON or CSV."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from app.commands._output import FORMATS, emit, filter_options, filters_from_options
from app.db import get_database
from app.services.analytics import QUERIES, run_query


@click.command("analytics")
@click.argument("name", type=click.Choice(list(QUERIES)))
@filter_options
@click.option("--bucket", type=click.Choice(["hour", "day"]), default="day", help="timeline bucket")
@click.option("--format", "fmt", type=FORMATS, default="table")
@with_appcontext
def command(name: str, bucket: str, fmt: str, **options: Any) -> None:
    """Run the analytics query NAME over the stored episodes."""
    with get_database(current_app).session() as db:
        rows = run_query(db, name, filters_from_options(options, bucket))
    emit(rows, fmt, title=name)
