"""Memorisation: reviewers that know the corpus or the generator instead of reading the code.

``diff_clean_module`` compares the episode's code with every shipped clean module
(``tasks/corpus/*/module.py``) once the generator's variations are undone: local names become
placeholders numbered by first use within the line (so a renamed local matches, and a read of
the wrong local of the line does not), string literals are compared by their text whatever
their quotes, integers without ``_`` separators, and lines as a multiset (definitions are
reordered). The module sharing most lines is taken as the source; the episode's lines it does
not hold are reported, top to bottom.

Its score on a public split is the memorisation ceiling: what a policy that learned the corpus
by heart can reach without reviewing. It is reported, not thresholded.

``regenerate_from_seed`` knows the generator instead: it makes the episode again from its task,
seed and split and reports the answer key. Only the deployment's episode secret stands between
it and a perfect score on an evaluation split.
"""

from __future__ import annotations

import ast
import builtins
import functools
import keyword
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from app.agents.adversarial.base import PlannedPolicy, issue, reported_categories
from app.agents.adversarial.patterns import dangerous_pattern
from app.agents.base import EpisodeContext, reviewed_code
from app.env import CodeIssue, CodeReviewerObservation, IssueType, TaskRegistry, load_registry
from app.env.tasks import default_tasks_dir

RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
# One lexical token of a line; strings only as far as the line goes (the scan must work on code
# that does not compile, and on the inside of triple-quoted strings, identically on both sides).
TOKEN = re.compile(r"""
    (?P<string>(?i:[rbuf]{0,2})(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
  | (?P<number>0[xXoObB][0-9a-fA-F_]+|\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?[jJ]?)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)


@dataclass(frozen=True)
class CleanModule:
    """A shipped clean module as the comparison needs it.

    Attributes:
        name: The module's folder name.
        kept: Names the generator never renames (everything but the locals of functions).
        lines: Its normalised non-blank lines, as a multiset.
    """

    name: str
    kept: frozenset[str]
    lines: Counter[str]


def renamable_locals(tree: ast.Module) -> set[str]:
    """Names assigned inside functions that are not parameters, module-level names, attributes
    or keyword-argument names: the only names the generator may rename."""
    module_names = {target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for target in ast.walk(node) if isinstance(target, ast.Name)}
    module_names |= {(alias.asname or alias.name).split(".")[0] for node in tree.body
                     if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    module_names |= {node.name for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    keyword_args = {node.arg for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg}
    local: set[str] = set()
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        arguments = function.args
        parameters = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                      arguments.vararg, arguments.kwarg] if a is not None}
        stored = {node.id for node in ast.walk(function)
                  if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
        local |= stored - parameters
    return local - module_names - attributes - keyword_args


def normalise_line(text: str, kept: frozenset[str]) -> str:
    """``text`` with the variations of the generator undone (see the module docstring)."""
    indent = text[: len(text) - len(text.lstrip())]
    parts: list[str] = []
    placeholders: dict[str, str] = {}
    after_dot = False
    for match in TOKEN.finditer(text.strip()):
        kind, value = match.lastgroup, match.group()
        if kind == "space":
            parts.append(" ")
            continue
        if kind == "string":
            prefix = re.match(r"(?i)[rbuf]*", value).group().lower()  # type: ignore[union-attr]
            body = value[len(prefix) + 1: -1]
            parts.append(f"{prefix}<{body}>")
        elif kind == "number":
            parts.append(value.replace("_", ""))
        elif kind == "name" and not after_dot and value not in kept and value not in RESERVED:
            parts.append(placeholders.setdefault(value, f"${len(placeholders)}"))
        else:
            parts.append(value)
        after_dot = value == "."
    return indent + "".join(parts)


@functools.lru_cache(maxsize=4)
def clean_modules(corpus_dir: Path) -> tuple[CleanModule, ...]:
    """Every ``<corpus_dir>/*/module.py``, normalised (read once per process and folder)."""
    modules = []
    for path in sorted(corpus_dir.glob("*/module.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        names = {match.group() for match in re.finditer(r"[A-Za-z_]\w*", source)}
        kept = frozenset(names - renamable_locals(tree))
        lines = Counter(normalise_line(line, kept) for line in source.splitlines() if line.strip())
        modules.append(CleanModule(path.parent.name, kept, lines))
    return tuple(modules)


@functools.lru_cache(maxsize=512)
def differing_lines(code: str, corpus_dir: Path) -> tuple[Optional[str], tuple[int, ...]]:
    """The clean module ``code`` is most likely made from, and the lines of ``code`` it lacks.

    Returns:
        ``(module name, line numbers)``; ``(None, ())`` without a corpus.
    """
    best: Optional[tuple[int, CleanModule, list[str]]] = None
    lines = code.splitlines()
    for module in clean_modules(corpus_dir):
        normalised = [normalise_line(line, module.kept) if line.strip() else "" for line in lines]
        shared = sum((Counter(text for text in normalised if text) & module.lines).values())
        if best is None or shared > best[0]:
            best = (shared, module, normalised)
    if best is None:
        return None, ()
    _, module, normalised = best
    remaining = Counter(module.lines)
    unmatched = []
    # Lines the module lacks entirely first; then, of a line the episode holds more often than
    # the module does, the later copies.
    for number, text in enumerate(normalised, start=1):
        if not text:
            continue
        if remaining[text] > 0:
            remaining[text] -= 1
        else:
            unmatched.append(number)
    return module.name, tuple(unmatched)


class DiffCleanModule(PlannedPolicy):
    """Reports the lines of the episode that its source clean module does not hold.

    Category: the task's when it asks for one. When it asks for both logic bugs and
    vulnerabilities (``full_review``), a differing line matching one of the regex policy's
    dangerous-API patterns is a vulnerability, any other a logic bug.

    Args:
        seed: Ignored (deterministic).
        corpus_dir: Folder of the clean modules; default ``tasks/corpus``.
    """

    name = "diff_clean_module"

    def __init__(self, seed: Optional[int] = None, corpus_dir: Optional[Path] = None) -> None:
        super().__init__(seed)
        self.corpus_dir = corpus_dir or default_tasks_dir() / "corpus"

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """The differing lines, top to bottom."""
        code = reviewed_code(observation)[0]
        source, numbers = differing_lines(code, self.corpus_dir)
        categories = reported_categories(observation)
        lines = code.splitlines()
        findings = []
        for number in numbers:
            kind = categories[0]
            if len(categories) > 1:
                dangerous = dangerous_pattern(lines[number - 1]) is not None
                kind = IssueType.SECURITY_VULNERABILITY if dangerous else IssueType.LOGIC_BUG
            findings.append(issue(number, kind, f"differs from the clean module {source}"))
        return findings


class RegenerateFromSeed(PlannedPolicy):
    """Regenerates the episode from ``(task, seed, split)`` with the project's own generator,
    without the deployment's episode secret, and reports that episode's answer key.

    On a public split (no secret is used there) it reproduces the episode exactly; on an
    evaluation split played under a secret it reports another episode's lines.

    Args:
        seed: The episode's seed (the one the client sent with its reset).
        split: The split the episode was reset on, as the client sent it.
        registry: The project's registry, without a secret; default the shipped tasks.
    """

    name = "regenerate_from_seed"

    def __init__(self, seed: Optional[int] = None, split: str = "train",
                 registry: Optional[TaskRegistry] = None) -> None:
        super().__init__(seed)
        self.split = split
        self.registry = registry if registry is not None else load_registry()

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """The regenerated episode's planted issues, at their faulty lines."""
        regenerated = self.registry.episode(context.task_name, seed=context.seed, split=self.split)
        return [CodeIssue(line_number=planted.line_number, issue_type=planted.issue_type,
                          severity=planted.severity, description=planted.description,
                          suggested_fix=planted.fix)
                for planted in regenerated.issues]
