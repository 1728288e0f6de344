"""``codereview export``: trajectories for training, as JSON Lines or Parquet."""

from __future__ import annotations

import sys
from typing import Any, Optional

import click
from flask import current_app
from flask.cli import with_appcontext

from app.commands._output import filter_options, filters_from_options
from app.db import get_database
from app.models import EpisodeStatus
from app.services import export as export_service


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="file to write (default: standard output for jsonl; required for parquet)")
@click.option("--status", type=click.Choice(EpisodeStatus.ALL), default=EpisodeStatus.FINISHED)
@filter_options
@with_appcontext
def command(fmt: str, output: Optional[str], status: str, **options: Any) -> None:
    """Export one record per episode (see README "Export" for the schema)."""
    database, registry = get_database(current_app), current_app.extensions["registry"]
    with database.session() as db:
        records = export_service.iter_records(db, registry, filters_from_options(options), status=status)
        if fmt == "parquet":
            if output is None:
                raise click.UsageError("--output is required for parquet")
            count = export_service.write_parquet(records, output)
        else:
            count = 0
            handle = open(output, "w", encoding="utf-8") if output else sys.stdout
            try:
                for line in export_service.jsonl_lines(records):
                    handle.write(line)
                    count += 1
            finally:
                if output:
                    handle.close()
    click.echo(f"exported {count} episodes", err=True)
