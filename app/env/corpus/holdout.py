"""The private hold-out split: base modules kept outside the project, served as split ``holdout``.

An organisation keeps modules in the format of ``tasks/corpus/<name>/`` (``module.py``,
``module.toml``, ``test_module.py``, optionally ``exploits.py``) in directories of its own and
names them in ``CODEREVIEW_HOLDOUT_DIR`` (several joined with ``os.pathsep``). Every module found
there belongs to the split ``holdout``, whatever its ``module.toml`` says. Its verification
catalogue is written beside the modules (``<dir>/verified.json``) or, when
``CODEREVIEW_HOLDOUT_CATALOGUE_DIR`` is set, in that directory; never into the project. A module
is served only while its catalogue entry matches its code.

Loading never raises for a bad module: each problem (which directory, which module, which file,
which field) is collected, so that the operator is told why a module is not served and the
public splits keep working.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from app.env.corpus.modules import BaseModule, load_module

HOLDOUT_SPLIT = "holdout"
HOLDOUT_DIR_ENV = "CODEREVIEW_HOLDOUT_DIR"
HOLDOUT_CATALOGUE_ENV = "CODEREVIEW_HOLDOUT_CATALOGUE_DIR"
# module.toml fields a hold-out module must give (the public corpus falls back to defaults).
REQUIRED_FIELDS = ("title", "file_name", "context")
REQUIRED_FILES = ("module.py", "module.toml", "test_module.py")


def holdout_dirs(configured: Optional[str]) -> tuple[Path, ...]:
    """The directories of an ``os.pathsep``-separated setting (empty entries ignored)."""
    if not configured:
        return ()
    return tuple(Path(part).expanduser() for part in configured.split(os.pathsep) if part.strip())


def catalogue_path(folder: Path, cache_dir: Optional[Path] = None) -> Path:
    """Where the catalogue of the hold-out directory ``folder`` is kept."""
    if cache_dir is None:
        return folder / "verified.json"
    digest = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:16]
    return cache_dir / f"holdout-{digest}.json"


@dataclass(frozen=True)
class HoldoutDirectory:
    """One hold-out directory: its usable modules, its catalogue and what is wrong in it."""

    folder: Path
    catalogue_file: Path
    modules: tuple[BaseModule, ...] = ()
    catalogue: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Holdout:
    """Every configured hold-out directory, loaded."""

    directories: tuple[HoldoutDirectory, ...] = ()
    configured: bool = False

    @property
    def modules(self) -> tuple[BaseModule, ...]:
        """The modules that loaded, from every directory."""
        return tuple(module for directory in self.directories for module in directory.modules)

    @property
    def catalogue(self) -> dict[str, Any]:
        """The catalogue entries of every directory, by module name."""
        merged: dict[str, Any] = {}
        for directory in self.directories:
            merged.update(directory.catalogue)
        return merged

    @property
    def problems(self) -> tuple[str, ...]:
        """What keeps a configured directory or module from being served."""
        return tuple(problem for directory in self.directories for problem in directory.problems)

    def catalogue_state(self, module: BaseModule) -> Optional[str]:
        """Why ``module`` is not served for want of a current catalogue entry (None: it has one)."""
        entry = self.catalogue.get(module.name)
        if entry is None:
            return "is not verified"
        if entry.get("digest") != module.digest:
            return "changed since it was verified"
        return None

    def unverified(self) -> list[str]:
        """Problems of modules that loaded but whose catalogue entry is missing or stale."""
        return [f"hold-out module {module.name!r} {state}: run codereview verify-tasks --catalogue"
                for module in self.modules if (state := self.catalogue_state(module)) is not None]

    def unavailable_reason(self) -> str:
        """Why no hold-out episode can be served (for an operator: names modules and files)."""
        if not self.configured:
            return f"no hold-out split on this server: {HOLDOUT_DIR_ENV} is not set"
        reasons = list(self.problems) + self.unverified()
        if not reasons:
            reasons = ["no hold-out module offers enough verified sites for this task"]
        return "no usable hold-out module: " + "; ".join(reasons)


def validate_module_folder(folder: Path) -> list[str]:
    """What is wrong with a module folder, file by file and field by field (empty: usable)."""
    problems = [f"{folder.name}: {name} is missing" for name in REQUIRED_FILES if not (folder / name).is_file()]
    if problems:
        return problems
    try:
        meta = tomllib.loads((folder / "module.toml").read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return [f"{folder.name}: module.toml does not parse: {exc}"]
    for name in REQUIRED_FIELDS:
        value = meta.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{folder.name}: module.toml field {name!r} must be a non-empty string")
    decoys = meta.get("decoys", [])
    if not isinstance(decoys, list) or not all(isinstance(item, dict) and isinstance(item.get("line"), str)
                                               for item in decoys):
        problems.append(f"{folder.name}: module.toml field 'decoys' must be a list of tables with a 'line' string")
        decoys = []
    for name in ("module.py", "test_module.py", "exploits.py"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            ast.parse(path.read_text(encoding="utf-8"), filename=name)
        except (SyntaxError, UnicodeDecodeError) as exc:
            where = f" line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
            problems.append(f"{folder.name}: {name}{where} does not parse: {exc.__class__.__name__}")
    if not problems:
        lines = [line.strip() for line in (folder / "module.py").read_text(encoding="utf-8").split("\n")]
        for item in decoys:
            count = lines.count(item["line"].strip())
            if count != 1:
                problems.append(f"{folder.name}: module.toml decoy line {item['line']!r} matches {count} lines "
                                "of module.py (it must match exactly one)")
    return problems


def _load_directory(folder: Path, cache_dir: Optional[Path], taken: set[str]) -> HoldoutDirectory:
    catalogue_file = catalogue_path(folder, cache_dir)
    if not folder.is_dir():
        return HoldoutDirectory(folder, catalogue_file, problems=(f"hold-out directory {str(folder)!r} does not exist",))
    modules: list[BaseModule] = []
    problems: list[str] = []
    folders = sorted(path for path in folder.iterdir() if path.is_dir() and (path / "module.toml").is_file())
    if not folders:
        problems.append(f"hold-out directory {str(folder)!r} holds no module (folders with a module.toml)")
    for module_folder in folders:
        found = validate_module_folder(module_folder)
        if found:
            problems.extend(f"hold-out module {problem}" for problem in found)
            continue
        module = replace(load_module(module_folder), split=HOLDOUT_SPLIT)
        if module.name in taken:
            problems.append(f"hold-out module {module_folder.name}: its name {module.name!r} is already used "
                            "by another module")
            continue
        taken.add(module.name)
        modules.append(module)
    catalogue: dict[str, Any] = {}
    if catalogue_file.is_file():
        try:
            catalogue = dict(json.loads(catalogue_file.read_text(encoding="utf-8")).get("modules", {}))
        except (ValueError, AttributeError) as exc:
            problems.append(f"hold-out catalogue {str(catalogue_file)!r} does not parse: {exc}")
    names = {module.name for module in modules}
    return HoldoutDirectory(folder, catalogue_file, tuple(modules),
                            {name: entry for name, entry in catalogue.items() if name in names}, tuple(problems))


def load_holdout(folders: Sequence[Path], cache_dir: Optional[Path] = None,
                 taken: Iterable[str] = ()) -> Holdout:
    """Load the hold-out directories ``folders``; module names in ``taken`` (the public
    corpus's) may not be reused."""
    used = set(taken)
    return Holdout(tuple(_load_directory(folder, cache_dir, used) for folder in folders), configured=bool(folders))
