"""Shared output helpers of the commands: readable tables, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any, Iterable, Optional

import click
from rich.console import Console
from rich.table import Table

from app.env import SPLITS
from app.services.analytics import Filters

FORMATS = click.Choice(["table", "json", "csv"])


def filter_options(function: Any) -> Any:
    """The common ``--task/--split/--agent/--model/--since/--until`` options."""
    options = [
        click.option("--task", default=None, help="only this task"),
        click.option("--split", type=click.Choice(SPLITS), default=None),
        click.option("--agent", default=None, help="only this agent label"),
        click.option("--model", default=None, help="only this model label"),
        click.option("--since", type=click.DateTime(), default=None, help="created at or after (UTC)"),
        click.option("--until", type=click.DateTime(), default=None, help="created before (UTC)"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def filters_from_options(options: dict[str, Any], bucket: str = "day") -> Filters:
    """Build filters from the parsed command options."""
    return Filters(task=options.get("task"), split=options.get("split"), agent=options.get("agent"),
                   model=options.get("model"), since=options.get("since"), until=options.get("until"),
                   bucket=bucket)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def emit(rows: Iterable[dict[str, Any]], fmt: str, title: Optional[str] = None) -> None:
    """Print rows as a table, JSON or CSV."""
    rows = list(rows)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    columns = list(rows[0]) if rows else []
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
        click.echo(buffer.getvalue(), nl=False)
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    cells = [[_cell(row[column]) for column in columns] for row in rows]
    for texts in cells:
        table.add_row(*texts)
    # As wide as the widest cell of each column needs (borders and padding: 3 a column), so that
    # long names are not folded; a narrower table keeps the usual width.
    natural = 1 + sum(3 + max(len(column), *(len(texts[index]) for texts in cells))
                      for index, column in enumerate(columns))
    Console(width=max(100, 14 * len(columns), natural)).print(table)
