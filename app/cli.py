"""The ``codereview`` command: a Flask CLI group over ``create_app``.

``codereview routes`` and ``codereview shell`` come from Flask; this module adds the project's
own commands.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup, with_appcontext
from flask import current_app

from app import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """Code Reviewer Environment management commands."""


@cli.command("tasks")
@with_appcontext
def list_tasks() -> None:
    """List the registered tasks."""
    for task in current_app.extensions["registry"].tasks():
        count = "0-" + str(sum(n for _, n in task.mix)) if task.expected_issue_count is None else task.expected_issue_count
        click.echo(f"{task.name:<24}{task.difficulty:<8}{count:>3} issues "
                   f"{task.max_steps:>3} steps  threshold {task.success_threshold:.2f}")


def _register_commands() -> None:
    # Each module of app.commands defines a click command named ``command``.
    import importlib
    import pkgutil

    import app.commands

    for module_info in sorted(pkgutil.iter_modules(app.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"app.commands.{module_info.name}")
        command = getattr(module, "command", None)
        if command is not None:
            cli.add_command(command)


_register_commands()


def main() -> None:
    """Console-script entry point: a domain error or a database error (an unmigrated or
    unreachable database, ...) is one line on stderr and exit status 1, never a traceback."""
    import sqlalchemy.exc

    from app.errors import DomainError

    try:
        cli(standalone_mode=True)
    except DomainError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        raise SystemExit(1) from None
    except sqlalchemy.exc.DBAPIError as exc:
        click.echo(f"Error: {database_problem(exc)}", err=True)
        raise SystemExit(1) from None


def database_problem(exc: BaseException) -> str:
    """What a database error means to the person who ran a command, in one line."""
    import psycopg

    orig = getattr(exc, "orig", exc)
    if isinstance(orig, psycopg.errors.UndefinedTable) or "no such table" in str(orig):
        return ("the database has no tables yet: run `alembic upgrade head` first "
                "(`make run` and the container's entry point do)")
    first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return f"the database is unavailable: {first_line}"
