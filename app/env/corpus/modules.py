"""Base modules: clean, tested Python modules that bugs are injected into.

Each folder of ``tasks/corpus/`` holds ``module.py`` (the clean code), ``test_module.py`` (its
tests), ``module.toml`` (metadata: split, file name, context, decoys) and, for some, ``exploits.py``
(proof-of-concept checks for vulnerabilities Bandit cannot see).
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import tokenize
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from app.env.corpus.operators import OPERATORS, Operator, RewriteContext, window
from app.env.corpus.operators_benign import BENIGN_BY_NAME, BENIGN_REWRITES, BENIGN_VARIANT, WHOLE_FUNCTION, BenignRewrite


@dataclass(frozen=True)
class ModuleDecoy:
    """A correct line that looks suspicious, found by its exact (stripped) text."""

    text: str
    kind: str
    description: str


@dataclass(frozen=True)
class Site:
    """A place where an operator variant can plant a bug (1-based ``line`` of the clean module)."""

    operator: str
    variant: str
    line: int

    @property
    def key(self) -> str:
        """Stable identifier, used by the verification catalogue."""
        return f"{self.operator}.{self.variant}@{self.line}"


@dataclass(frozen=True, eq=False)
class BaseModule:
    """A clean module and what the generator needs to know about it."""

    name: str
    title: str
    domain: str
    file_name: str
    context: str
    split: str
    security_dense: bool
    source: str
    folder: Path
    decoys: tuple[ModuleDecoy, ...] = field(default_factory=tuple)

    @cached_property
    def lines(self) -> list[str]:
        """The source split into lines (no trailing newline)."""
        return self.source.rstrip("\n").split("\n")

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the source: ties verification results to this exact code."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    @cached_property
    def tree(self) -> ast.Module:
        """The parsed clean module."""
        return ast.parse(self.source)

    @cached_property
    def imports(self) -> frozenset[str]:
        """Top-level module names imported at the top of the file."""
        names: set[str] = set()
        for node in self.tree.body:
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        return frozenset(names)

    @cached_property
    def string_lines(self) -> frozenset[int]:
        """Lines inside multi-line strings or holding only a comment: never mutation sites."""
        excluded: set[int] = set()
        for token in tokenize.generate_tokens(io.StringIO(self.source).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                excluded.update(range(token.start[0], token.end[0] + 1))
            elif token.type == tokenize.COMMENT and not self.lines[token.start[0] - 1].split("#")[0].strip():
                excluded.add(token.start[0])
        return frozenset(excluded)

    @cached_property
    def rewrite_context(self) -> RewriteContext:
        """What contextual operators may know about the module: its string dict keys, its logger."""
        keys: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                if isinstance(node.slice.value, str):
                    keys.add(node.slice.value)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("get", "pop", "setdefault") and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                keys.add(node.args[0].value)
            elif isinstance(node, ast.Dict):
                keys.update(k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
        loggers = [
            node.targets[0].id for node in self.tree.body
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "getLogger"
        ]
        return RewriteContext(dict_keys=tuple(sorted(k for k in keys if k.isidentifier())),
                              logger=loggers[0] if loggers else None,
                              words=frozenset(re.findall(r"[A-Za-z_]\w*", self.source)))

    @cached_property
    def _numbers_by_text(self) -> dict[str, tuple[int, ...]]:
        """1-based line numbers by stripped text."""
        numbers: dict[str, list[int]] = {}
        for number, line in enumerate(self.lines, start=1):
            numbers.setdefault(line.strip(), []).append(number)
        return {text: tuple(found) for text, found in numbers.items()}

    def line_of(self, text: str) -> int:
        """1-based line whose stripped text is ``text``.

        Raises:
            ValueError: when no line, or more than one, matches.
        """
        matches = self._numbers_by_text.get(text.strip(), ())
        if len(matches) != 1:
            raise ValueError(f"{self.name}: {len(matches)} lines match {text!r}")
        return matches[0]

    def candidate_sites(self, operators: tuple[Operator, ...] = OPERATORS) -> list[Site]:
        """Every (operator, variant, line) whose rewrite applies to this module."""
        sites = []
        for number, line in enumerate(self.lines, start=1):
            if not line.strip() or number in self.string_lines and not line.strip().startswith('"""'):
                continue
            for operator in operators:
                if operator.requires_import and operator.requires_import not in self.imports:
                    continue
                text = self._window(number, operator.span)
                if text is None:
                    continue
                for variant in operator.variants:
                    if operator.name == "unsafe_deserialisation" and variant.name == "pickle" and "pickle" not in self.imports:
                        continue
                    rewritten = variant.apply(text, self.rewrite_context)
                    if rewritten is not None and rewritten != text:
                        sites.append(Site(operator.name, variant.name, number))
        return sites

    def _window(self, number: int, span: int) -> str | None:
        """The ``span`` lines from ``number`` on, when none of them is blank or inside a string."""
        if span == 1:
            return self.lines[number - 1]
        text = window(self.lines, number, span)
        covered = range(number, number + span)
        if text is None or any(not self.lines[n - 1].strip() or n in self.string_lines for n in covered):
            return None
        return text

    @cached_property
    def _function_ends(self) -> dict[int, int]:
        """Last line of every function, by the line of its ``def``."""
        return {node.lineno: node.end_lineno or node.lineno for node in ast.walk(self.tree)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}

    def benign_window(self, line: int, rewrite: BenignRewrite) -> str | None:
        """The text a benign rewrite at ``line`` works on (``None`` where it cannot)."""
        if rewrite.span != WHOLE_FUNCTION:
            return self._window(line, rewrite.span)
        end = self._function_ends.get(line)
        return None if end is None else window(self.lines, line, end - line + 1)

    def benign_sites(self) -> list[Site]:
        """Every (benign rewrite, line) that changes this module."""
        sites = []
        for number, line in enumerate(self.lines, start=1):
            if not line.strip() or number in self.string_lines:
                continue
            for rewrite in BENIGN_REWRITES:
                text = self.benign_window(number, rewrite)
                changed = None if text is None else rewrite.apply(text, self.rewrite_context)
                if changed is not None and changed != text:
                    sites.append(Site(rewrite.name, BENIGN_VARIANT, number))
        return sites

    def benign_rewrite(self, site: Site) -> tuple[str, str]:
        """The window of a benign site and what the rewrite makes of it."""
        rewrite = BENIGN_BY_NAME[site.operator]
        text = self.benign_window(site.line, rewrite)
        changed = None if text is None else rewrite.apply(text, self.rewrite_context)
        if text is None or changed is None:
            raise ValueError(f"{site.key} does not apply to {self.name}")
        return text, changed

    def rewrite(self, site: Site) -> str:
        """The text of ``site`` (its line, or its ``span`` lines joined) with its bug planted."""
        from app.env.corpus.operators import OPERATORS_BY_NAME

        operator = OPERATORS_BY_NAME[site.operator]
        text = self._window(site.line, operator.span)
        rewritten = None if text is None else operator.variant(site.variant).apply(text, self.rewrite_context)
        if rewritten is None:
            raise ValueError(f"{site.key} does not apply to {self.name}")
        return rewritten


def load_module(folder: Path) -> BaseModule:
    """Read one base module folder."""
    meta = tomllib.loads((folder / "module.toml").read_text(encoding="utf-8"))
    return BaseModule(
        name=str(meta.get("name", folder.name)),
        title=str(meta.get("title", folder.name)),
        domain=str(meta.get("domain", "")),
        file_name=str(meta.get("file_name", f"{folder.name}.py")),
        context=str(meta.get("context", "")),
        split=str(meta.get("split", "train")),
        security_dense=bool(meta.get("security_dense", False)),
        source=(folder / "module.py").read_text(encoding="utf-8"),
        folder=folder,
        decoys=tuple(
            ModuleDecoy(text=str(item["line"]), kind=str(item.get("kind", "look_alike")),
                        description=str(item.get("description", "")))
            for item in meta.get("decoys", [])
        ),
    )


def load_modules(root: Path) -> list[BaseModule]:
    """Every base module under ``root`` (folders holding ``module.toml``), by name."""
    if not root.is_dir():
        return []
    return [load_module(folder) for folder in sorted(root.iterdir()) if (folder / "module.toml").is_file()]
