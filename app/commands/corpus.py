"""``codereview corpus``: author base modules and see what the hold-out split can serve.

``corpus new NAME`` writes a module skeleton (module.py, module.toml, test_module.py,
exploits.py) into a hold-out directory (the first of ``CODEREVIEW_HOLDOUT_DIR``) or ``--dir``;
``corpus status`` says, per hold-out directory and module, what is served and why not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext

from app.commands._output import emit
from app.commands.verify_tasks import reloaded
from app.env import TaskRegistry
from app.env.corpus.holdout import HOLDOUT_DIR_ENV, HOLDOUT_SPLIT

SKELETON = Path(__file__).resolve().parents[1] / "corpus" / "skeleton"
FILES = ("module.py", "module.toml", "test_module.py", "exploits.py")


@click.group("corpus")
def command() -> None:
    """Author base modules; inspect the hold-out split."""


@command.command("new")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"where to create the module folder (default: the first directory of {HOLDOUT_DIR_ENV})")
@with_appcontext
def new_module(name: str, directory: Optional[Path]) -> None:
    """Write the skeleton of base module NAME: a small clean module, its tests and an exploit."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", name):
        raise click.BadParameter("lower-case letters, digits and underscores, starting with a letter", param_hint="NAME")
    registry: TaskRegistry = current_app.extensions["registry"]
    if directory is None:
        if not registry.holdout.directories:
            raise click.UsageError(f"give --dir, or set {HOLDOUT_DIR_ENV} to the hold-out directory")
        directory = registry.holdout.directories[0].folder
    folder = directory / name
    if folder.exists():
        raise click.ClickException(f"{folder} already exists")
    folder.mkdir(parents=True)
    title = name.replace("_", " ").capitalize()
    for file_name in FILES:
        text = (SKELETON / f"{file_name}.txt").read_text(encoding="utf-8")
        if file_name == "module.toml":
            text = text.replace("{name}", name).replace("{title}", title)
        (folder / file_name).write_text(text, encoding="utf-8")
    click.echo(f"wrote {', '.join(FILES)} to {folder}")
    click.echo(f"next: edit them, then `codereview verify-tasks --module {folder}` shows what the module can plant; "
               "`codereview verify-tasks --catalogue` verifies it for serving")


@command.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def status(fmt: str) -> None:
    """The hold-out split: its directories and modules, what each task can serve, and what is wrong."""
    registry = reloaded(current_app.extensions["registry"])
    holdout = registry.holdout
    if not holdout.configured:
        click.echo(f"no hold-out split: {HOLDOUT_DIR_ENV} is not set")
        return
    catalogue = holdout.catalogue
    rows = []
    for directory in holdout.directories:
        for module in directory.modules:
            state = (holdout.catalogue_state(module)
                     or f"{len(catalogue[module.name].get('verified', []))} sites verified")
            rows.append({"directory": str(directory.folder), "module": module.name, "catalogue": state,
                         "catalogue file": str(directory.catalogue_file)})
    emit(rows, fmt, title="hold-out modules")
    emit([{"task": name, "modules": registry.split_sizes(name)[HOLDOUT_SPLIT]} for name in registry.names()],
         fmt, title="hold-out modules able to carry each task")
    for problem in list(holdout.problems) + holdout.unverified():
        click.echo(f"PROBLEM {problem}")
