"""Seeded episode generation from base modules and verified bug sites.

``(task, seed, split)`` determines everything: which base module, which verified sites, how local
variables are renamed, how string and integer literals are spelled (``literals``, values never
change) and how runs of functions and methods are ordered. The same triple gives byte-identical
code and answer key in any process (only ``random.Random`` seeded with a string, which is hashed
with SHA-512, and sorted iteration are used).

Episodes of the evaluation splits may also depend on a per-deployment secret
(:func:`episode_stream`): whoever knows the seed and this code, but not the secret, cannot
regenerate them, while the holder of the secret regenerates any of them exactly.

Only sites listed as verified in the catalogue (``tasks/corpus/verified.json``, written by
``codereview verify-tasks --catalogue``) are planted, and only while the module's code still has
the digest that was verified. Renaming locals, respelling literals and reordering definitions
cannot undo a verified bug; ``codereview verify-tasks --seeds`` re-checks generated episodes on
their final code.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import hmac
import io
import json
import keyword
import random
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional

from app.env.corpus.holdout import HOLDOUT_SPLIT
from app.env.corpus.literals import LiteralStyle, varier
from app.env.corpus.modules import BaseModule, Site
from app.env.corpus.operators import OPERATORS_BY_NAME, Operator, replace_window, window
from app.env.models import CodeSnippet, Decoy, EpisodeSpec, IssueType, PlantedIssue

MIN_GAP = {IssueType.SYNTAX_ERROR: 4, IssueType.LOGIC_BUG: 2, IssueType.SECURITY_VULNERABILITY: 1}
ATTEMPTS = 40
# A module must offer this many more verified lines than it plants, so episodes differ.
SPARE_SITES = 2
# No restriction on the operators a category is planted from.
EVERY_OPERATOR: Mapping[IssueType, frozenset[str]] = MappingProxyType({})

# Splits whose episodes are drawn with the episode secret when one is given: a score on them
# must not be reachable by regenerating the episode from its seed.
EVALUATION_SPLITS: frozenset[str] = frozenset({"test", HOLDOUT_SPLIT})


def episode_stream(task_name: str, split: str, seed: Optional[int], secret: Optional[bytes] = None) -> str:
    """The string every random choice of an episode is drawn from.

    ``task|split|seed`` for public splits (and for every split without a secret); for an
    evaluation split with a secret, that string followed by its HMAC-SHA256 under the secret, so
    that nothing about the episode can be computed without the secret.
    """
    base = f"{task_name}|{split}|{seed}"
    if secret is None or split not in EVALUATION_SPLITS:
        return base
    return f"{base}|{hmac.new(secret, base.encode('utf-8'), hashlib.sha256).hexdigest()}"


# Synonyms for common local names; a name absent here keeps its spelling.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "total": ("running_total", "subtotal", "acc_total", "sum_total"),
    "count": ("counter", "tally", "num", "n_items"),
    "result": ("output", "outcome", "res", "collected"),
    "results": ("outputs", "collected", "found_items", "matches"),
    "items": ("entries", "elements", "records", "things"),
    "item": ("entry", "element", "record", "thing"),
    "value": ("val", "amount_value", "current", "datum"),
    "values": ("vals", "data_points", "numbers", "series"),
    "index": ("idx", "position", "i", "pos"),
    "row": ("line_row", "record_row", "entry_row", "r"),
    "rows": ("table_rows", "records", "lines_read", "data_rows"),
    "best": ("top", "winner", "best_so_far", "leader"),
    "amount": ("sum_amount", "money", "qty_amount", "figure"),
    "line": ("text_line", "raw_line", "ln", "current_line"),
    "lines": ("text_lines", "raw_lines", "all_lines", "content_lines"),
    "key": ("k", "dict_key", "lookup_key", "field_key"),
    "name": ("label", "title_name", "nm", "display"),
    "path": ("file_path", "target_path", "location", "fs_path"),
    "data": ("payload", "blob", "content", "raw_data"),
    "text": ("body_text", "raw_text", "content_text", "txt"),
    "start": ("begin", "start_at", "first", "origin"),
    "end": ("finish", "end_at", "last", "stop_at"),
    "parts": ("pieces", "chunks", "fields", "segments"),
    "cursor": ("cur", "db_cursor", "c", "crs"),
    "query": ("sql", "statement", "sql_text", "q"),
    "token": ("tok", "auth_token", "token_value", "credential"),
    "score": ("points", "mark", "rating", "grade_value"),
    "scores": ("marks", "ratings", "point_list", "all_scores"),
    "price": ("cost", "unit_price", "rate", "price_value"),
    "user": ("account", "member", "usr", "person"),
    "users": ("accounts", "members", "people", "all_users"),
    "remaining": ("left", "rest", "outstanding", "still_open"),
    "matched": ("hits", "selected", "picked", "chosen"),
    "current": ("cur_value", "present", "now_value", "this_one"),
    "previous": ("prev", "last_seen", "before", "earlier"),
    "message": ("msg", "note", "notice", "text_msg"),
    "entry": ("record", "row_entry", "e", "item_entry"),
    "size": ("length", "n", "extent", "sz"),
    "limit": ("cap", "max_allowed", "ceiling", "bound"),
}


@dataclass(frozen=True)
class Catalogue:
    """Verified sites per module, valid only for the module digest they were verified on."""

    modules: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, path: Path) -> "Catalogue":
        """Read ``verified.json``; an absent file is an empty catalogue."""
        if not path.is_file():
            return cls({})
        return cls(json.loads(path.read_text(encoding="utf-8")).get("modules", {}))

    def decoys(self, module: BaseModule) -> frozenset[str]:
        """Texts of the module's decoys that verification accepted (no confirming rule fires)."""
        entry = self.modules.get(module.name)
        if not entry or entry.get("digest") != module.digest:
            return frozenset()
        return frozenset(entry.get("decoys", []))

    def verified(self, module: BaseModule) -> list[Site]:
        """The module's verified sites (none when the code changed since verification)."""
        return self._sites(module, "verified")

    def benign(self, module: BaseModule) -> list[Site]:
        """The module's rewrites proved benign (none when the code changed since verification)."""
        return self._sites(module, "benign")

    def _sites(self, module: BaseModule, field_name: str) -> list[Site]:
        entry = self.modules.get(module.name)
        if not entry or entry.get("digest") != module.digest:
            return []
        sites = []
        for key in entry.get(field_name, []):
            head, line = key.rsplit("@", 1)
            operator, variant = head.split(".", 1)
            sites.append(Site(operator, variant, int(line)))
        return sites


# One reorderable definition: (first line, last code line, last line of its slot). The lines
# after the code up to the slot's end (blank lines, separator comments) stay where they are.
_Slot = tuple[int, int, int]


@dataclass(frozen=True)
class _Prepared:
    """Per-module facts computed once: renamable locals and reorderable runs of definitions."""

    renames: tuple[tuple[str, tuple[str, ...], tuple[tuple[int, int], ...]], ...]
    runs: tuple[tuple[_Slot, ...], ...]  # runs of functions (module level) or methods (class body)


def _prepare(module: BaseModule) -> _Prepared:
    tree = module.tree
    reserved = set(dir(builtins)) | set(keyword.kwlist)
    module_names: set[str] = set()
    attributes: set[str] = set()
    keywords: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            attributes.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            keywords.add(node.arg)
    for node in tree.body:
        for target in ast.walk(node) if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)) else []:
            if isinstance(target, ast.Name):
                module_names.add(target.id)
            elif isinstance(target, ast.alias):
                module_names.add((target.asname or target.name).split(".")[0])
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            module_names.add(node.name)
    all_tokens = {token.string for token in tokenize.generate_tokens(io.StringIO(module.source).readline)
                  if token.type == tokenize.NAME}
    name_tokens = [token for token in tokenize.generate_tokens(io.StringIO(module.source).readline)]
    renames = []
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        if any(isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
               for inner in ast.walk(function) if inner is not function):
            continue
        params = {arg.arg for arg in function.args.args + function.args.kwonlyargs + function.args.posonlyargs}
        if function.args.vararg:
            params.add(function.args.vararg.arg)
        if function.args.kwarg:
            params.add(function.args.kwarg.arg)
        stored = {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
        declared = {name for node in ast.walk(function) if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}
        start, end = function.lineno, function.end_lineno or function.lineno
        # Names inside f-strings are not separate tokens: never rename what an f-string uses.
        fstring_text = " ".join(
            token.string for token in name_tokens
            if token.type == tokenize.STRING and start <= token.start[0] <= end
            and token.string.lstrip("rbRB")[:1] in ("f", "F")
        )
        for name in sorted(stored - params - declared - module_names - attributes - keywords - reserved):
            if name not in SYNONYMS or re.search(rf"\b{name}\b", fstring_text):
                continue
            candidates = tuple(c for c in SYNONYMS[name] if c not in all_tokens and c not in reserved)
            if not candidates:
                continue
            positions = []
            previous = None
            for token in name_tokens:
                if start <= token.start[0] <= end and token.type == tokenize.NAME and token.string == name:
                    if previous is not None and previous.string == ".":
                        continue
                    positions.append(token.start)
                previous = token if token.type not in (tokenize.NL, tokenize.COMMENT) else previous
            renames.append((name, candidates, tuple(positions)))

    return _Prepared(tuple(renames), _reorderable_runs(tree))


def _movable(node: ast.stmt) -> bool:
    """A plain function or method: no decorator (order can matter, e.g. property setters), no dunder."""
    return (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list
            and not (node.name.startswith("__") and node.name.endswith("__")))


def _binds_at_definition(run: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> bool:
    """Whether a default or an annotation of the run names another function of the run.

    Those are evaluated when the ``def`` runs, so the order of such definitions matters.
    """
    names = {node.name for node in run}
    for node in run:
        arguments = node.args
        evaluated: list[Optional[ast.expr]] = [*arguments.defaults, *arguments.kw_defaults, node.returns]
        evaluated += [arg.annotation for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
        for expression in filter(None, evaluated):
            if any(isinstance(inner, ast.Name) and inner.id in names for inner in ast.walk(expression)):
                return True
    return False


def _reorderable_runs(tree: ast.Module) -> tuple[tuple[_Slot, ...], ...]:
    """Maximal runs (two or more) of consecutive movable definitions, at module level and in classes.

    Moving a ``def`` among other ``def`` statements only changes when a name is bound, never what it
    is bound to, so the module behaves the same in any order of a run.
    """
    bodies = [tree.body] + [node.body for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    runs: list[tuple[_Slot, ...]] = []
    for body in bodies:
        current: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        for node in [*body, None]:
            if node is not None and _movable(node):
                current.append(node)  # type: ignore[arg-type]
                continue
            if len(current) >= 2 and not _binds_at_definition(current):
                slots = []
                for index, definition in enumerate(current):
                    code_end = definition.end_lineno or definition.lineno
                    slot_end = current[index + 1].lineno - 1 if index + 1 < len(current) else code_end
                    slots.append((definition.lineno, code_end, slot_end))
                runs.append(tuple(slots))
            current = []
    return tuple(sorted(runs))


class Generator:
    """Generates episodes of a task from the base modules of each split."""

    def __init__(self, modules: list[BaseModule], catalogue: Catalogue) -> None:
        self.modules = sorted(modules, key=lambda m: m.name)
        self.catalogue = catalogue
        self._verified = {module.name: self.catalogue.verified(module) for module in self.modules}
        self._prepared: dict[str, _Prepared] = {}
        # Both depend only on the verified corpus, fixed above: computed once, not per episode.
        self._sites: dict[tuple[str, IssueType, str, Optional[frozenset[str]]], tuple[Site, ...]] = {}
        self._eligible: dict[tuple[Any, ...], tuple[BaseModule, ...]] = {}
        self._sites_by_key: dict[tuple[str, IssueType, str, Optional[frozenset[str]]], tuple[Site, ...]] = {}
        self._decoy_lines: dict[str, frozenset[int]] = {}

    @property
    def has_corpus(self) -> bool:
        """Whether any base module has verified sites."""
        return any(self._verified.values())

    def prepared(self, module: BaseModule) -> _Prepared:
        """Cached per-module preparation."""
        if module.name not in self._prepared:
            self._prepared[module.name] = _prepare(module)
        return self._prepared[module.name]

    def sites(self, module: BaseModule, issue_type: IssueType, split: str,
              operators: Optional[frozenset[str]] = None) -> tuple[Site, ...]:
        """Verified sites of a category whose variant may appear in ``split``; only those of
        ``operators`` when given."""
        key = (module.name, issue_type, split, operators)
        found = self._sites.get(key)
        if found is None:
            # The hold-out split takes the test split's variants: both measure generalisation.
            variant_split = "test" if split == HOLDOUT_SPLIT else split
            found = self._sites[key] = tuple(
                site for site in self._verified[module.name]
                if OPERATORS_BY_NAME[site.operator].issue_type is issue_type
                and variant_split in OPERATORS_BY_NAME[site.operator].variant(site.variant).splits
                and (operators is None or site.operator in operators)
            )
        return found

    def _sorted_sites(self, module: BaseModule, issue_type: IssueType, split: str,
                      operators: Optional[frozenset[str]] = None) -> tuple[Site, ...]:
        """:meth:`sites` in the order of their keys."""
        key = (module.name, issue_type, split, operators)
        found = self._sites_by_key.get(key)
        if found is None:
            found = self._sites_by_key[key] = tuple(sorted(self.sites(module, issue_type, split, operators),
                                                           key=lambda s: s.key))
        return found

    def _unplantable(self, module: BaseModule) -> frozenset[int]:
        """Lines of the module's decoys, never planted."""
        found = self._decoy_lines.get(module.name)
        if found is None:
            found = self._decoy_lines[module.name] = frozenset(
                module.line_of(d.text) for d in module.decoys if _unique(module, d.text))
        return found

    def warm(self, splits: Iterable[str]) -> None:
        """Fill every per-module cache now: each module's analysis (syntax tree, tokens, renamable
        names, reorderable runs), its verified sites by category and split, and its decoys.

        Without it these are computed on a module's first episode in each process, which made a
        new process's first few hundred episodes three to four times slower to generate than
        later ones. Episodes are the same either way: only when the work is done changes.
        """
        splits = tuple(splits)
        for module in self.modules:
            if not self._verified[module.name]:
                continue
            self.prepared(module)
            self._unplantable(module)
            _ = module.string_lines, module.rewrite_context  # both cached on first access
            for decoy in module.decoys:
                _unique(module, decoy.text)
            for issue_type in IssueType:
                for split in splits:
                    self._sorted_sites(module, issue_type, split)

    @staticmethod
    def needed(mix: Mapping[IssueType, int]) -> dict[IssueType, int]:
        """Verified lines a module needs per category to carry ``mix`` (spares included)."""
        return {kind: count + SPARE_SITES for kind, count in mix.items()}

    def eligible(self, mix: Mapping[IssueType, int], split: str,
                 operators: Mapping[IssueType, frozenset[str]] = EVERY_OPERATOR) -> tuple[BaseModule, ...]:
        """Modules of ``split`` with enough verified sites for every category of ``mix`` (from
        ``operators`` of a category, where given)."""
        key = (tuple(sorted(mix.items(), key=lambda item: item[0].value)), split,
               tuple(sorted((kind.value, names) for kind, names in operators.items())))
        found = self._eligible.get(key)
        if found is None:
            needed = self.needed(mix)
            found = self._eligible[key] = tuple(
                module for module in self.modules
                if module.split == split
                and all(len({s.line for s in self.sites(module, kind, split, operators.get(kind))}) >= needed[kind]
                        for kind in mix)
            )
        return found

    def generate(self, task_name: str, mix: Mapping[IssueType, int], seed: int, split: str,
                 secret: Optional[bytes] = None) -> EpisodeSpec:
        """The episode ``(task_name, seed, split)``, under ``secret`` on an evaluation split.

        Args:
            task_name: The task whose episode this is.
            mix: Planted issues per category.
            seed: The episode's seed.
            split: The split whose base modules are used.
            secret: The deployment's episode secret (see :func:`episode_stream`); ``None``
                makes every split reproducible from the seed alone.

        Raises:
            ValueError: no base module of ``split`` can carry ``mix``.
        """
        modules = self.eligible(mix, split)
        if not modules:
            raise ValueError(f"no verified base module of split {split!r} can carry {dict(mix)}")
        stream = episode_stream(task_name, split, seed, secret)
        rng = random.Random(stream)
        for _ in range(ATTEMPTS):
            module = modules[rng.randrange(len(modules))]
            episode = self._attempt(task_name, mix, seed, split, stream, module, rng)
            if episode is not None:
                return episode
        raise ValueError(f"could not generate {task_name} seed {seed} ({split}) in {ATTEMPTS} attempts")

    def _choose_sites(self, module: BaseModule, mix: Mapping[IssueType, int], split: str, rng: random.Random,
                      operators: Mapping[IssueType, frozenset[str]] = EVERY_OPERATOR) -> Optional[list[Site]]:
        decoy_lines = self._unplantable(module)
        chosen: list[Site] = []
        for kind in sorted(mix, key=lambda k: k.value):
            pool = list(self._sorted_sites(module, kind, split, operators.get(kind)))
            rng.shuffle(pool)
            used_operators: dict[str, int] = {}
            picked = 0
            # Prefer operators not used yet, so one snippet mixes bug kinds: a site is skipped
            # below once its operator has its share.
            for site in pool:
                if picked == mix[kind]:
                    break
                gap = MIN_GAP[kind]
                if not decoy_lines.isdisjoint(_covered(site)) or any(_distance(site, other) < max(gap, MIN_GAP[
                        OPERATORS_BY_NAME[other.operator].issue_type]) for other in chosen):
                    continue
                if used_operators.get(site.operator, 0) >= max(1, mix[kind] // 3):
                    continue
                chosen.append(site)
                used_operators[site.operator] = used_operators.get(site.operator, 0) + 1
                picked += 1
            if picked < mix[kind]:
                for site in pool:  # relax operator diversity, keep spacing
                    if picked == mix[kind]:
                        break
                    if site in chosen or not decoy_lines.isdisjoint(_covered(site)) or any(
                            _distance(site, other) < MIN_GAP[kind] for other in chosen):
                        continue
                    chosen.append(site)
                    picked += 1
            if picked < mix[kind]:
                return None
        return chosen

    def _attempt(self, task_name: str, mix: Mapping[IssueType, int], seed: int, split: str, stream: str,
                 module: BaseModule, rng: random.Random) -> Optional[EpisodeSpec]:
        chosen = self._choose_sites(module, mix, split, rng)
        if chosen is None:
            return None
        prepared = self.prepared(module)
        renamed = _renamed_lines(module, prepared, rng)
        lines = list(renamed)
        for site in chosen:
            operator = OPERATORS_BY_NAME[site.operator]
            rewritten = operator.variant(site.variant).apply(window(renamed, site.line, operator.span) or "",
                                                             module.rewrite_context)
            if rewritten is None:
                return None
            lines = replace_window(lines, site.line, rewritten)
        order, mapping = _reorder(prepared, len(lines), rng)
        last_line = max(mapping[site.line] for site in chosen)
        if any(site.operator == "unterminated_triple_quote" and mapping[site.line] != last_line for site in chosen):
            return None  # an open docstring would swallow the errors after it
        # Literal spelling comes from its own stream, so it leaves the choice of sites unchanged.
        style = LiteralStyle.draw(random.Random(f"{stream}|literals"))
        clean = {site.line: "\n".join(_respelled_line(renamed, number, module.string_lines, style)
                                      for number in _covered(site)) for site in chosen}
        lines = _respelled(lines, module.string_lines, style)
        code = "\n".join(lines[number - 1] for number in order) + "\n"

        issues = []
        for index, site in enumerate(sorted(chosen, key=lambda s: mapping[s.line]), start=1):
            operator: Operator = OPERATORS_BY_NAME[site.operator]
            line = mapping[site.line]
            # Trailing accepted lines are the lines that follow in the episode's own order: an
            # unclosed bracket is reported where the code after it starts.
            # A multi-line site's lines stay together (reordering moves whole definitions).
            accepted = [mapping[number] for number in _covered(site)]
            accepted += [accepted[-1] + k for k in range(1, operator.trailing_accepted + 1)
                         if accepted[-1] + k <= len(order)]
            issues.append(PlantedIssue(
                id=f"{site.operator}-{index}", line_number=line, accepted_lines=tuple(accepted),
                issue_type=operator.issue_type, severity=operator.severity, description=operator.description,
                fix=clean[site.line], cwe=operator.cwe, kind=site.operator,
            ))
        decoys = self._decoys(module, chosen, mapping, split, mix)
        snippet = CodeSnippet(code=code, language="python", file_name=module.file_name, context=module.context)
        return EpisodeSpec(task_name=task_name, seed=seed, split=split, snippet=snippet,
                           issues=tuple(issues), decoys=tuple(decoys), origin=module.name, stream=stream,
                           title=module.title)

    def _decoys(self, module: BaseModule, chosen: list[Site], mapping: dict[int, int], split: str,
                mix: Mapping[IssueType, int]) -> list[Decoy]:
        planted_lines = {number for site in chosen for number in _covered(site)}
        decoys: dict[int, Decoy] = {}
        accepted = self.catalogue.decoys(module)
        for decoy in module.decoys:
            if decoy.text not in accepted or not _unique(module, decoy.text):
                continue
            line = module.line_of(decoy.text)
            if line not in planted_lines:
                decoys[line] = Decoy(id=f"decoy-{decoy.kind}", line_number=mapping[line], kind=decoy.kind,
                                     description=decoy.description)
        if IssueType.SECURITY_VULNERABILITY in mix:
            for site in self.sites(module, IssueType.SECURITY_VULNERABILITY, split):
                if site.line not in planted_lines and site.line not in decoys:
                    decoys[site.line] = Decoy(id=f"safe-{site.operator}-{site.line}", line_number=mapping[site.line],
                                              kind=f"safe_{site.operator}",
                                              description="Safe form of a sink that is often vulnerable.")
        return [decoys[line] for line in sorted(decoys, key=lambda n: mapping[n])]


def _covered(site: Site) -> range:
    """The clean module's lines a site covers."""
    return range(site.line, site.line + OPERATORS_BY_NAME[site.operator].span)


def _distance(site: Site, other: Site) -> int:
    """Lines between two sites (0 when they share a line; 1 when they touch)."""
    first, second = _covered(site), _covered(other)
    return max(first.start - second[-1], second.start - first[-1], 0)


@lru_cache(maxsize=None)
def _unique_cached(source: str, text: str) -> bool:
    return sum(1 for line in source.split("\n") if line.strip() == text.strip()) == 1


def _unique(module: BaseModule, text: str) -> bool:
    return _unique_cached(module.source, text)


def _renamed_lines(module: BaseModule, prepared: _Prepared, rng: random.Random) -> list[str]:
    lines = list(module.lines)
    edits: dict[int, list[tuple[int, str, str]]] = {}
    taken: set[str] = set()
    for name, candidates, positions in prepared.renames:
        if rng.random() < 0.5:
            continue
        options = [c for c in candidates if c not in taken]
        if not options:
            continue
        new = options[rng.randrange(len(options))]
        taken.add(new)
        for row, col in positions:
            edits.setdefault(row, []).append((col, name, new))
    for row, changes in edits.items():
        text = lines[row - 1]
        for col, old, new in sorted(changes, reverse=True):
            if text[col:col + len(old)] == old:
                text = text[:col] + new + text[col + len(old):]
        lines[row - 1] = text
    return lines


def _respelled(lines: list[str], skipped: frozenset[int], style: LiteralStyle) -> list[str]:
    """Every line outside multi-line strings with its literals spelled in ``style``."""
    vary = varier(style)
    return [line if number in skipped else vary(line) for number, line in enumerate(lines, start=1)]


def _respelled_line(lines: list[str], number: int, skipped: frozenset[int], style: LiteralStyle) -> str:
    """Line ``number`` (1-based) of :func:`_respelled`'s result."""
    line = lines[number - 1]
    return line if number in skipped else varier(style)(line)


def _reorder(prepared: _Prepared, line_count: int, rng: random.Random) -> tuple[list[int], dict[int, int]]:
    """New line order (old numbers) and old -> new line mapping.

    Each run's definitions are shuffled; the separator lines of each slot stay in place, so the
    blank lines between definitions keep their usual shape whatever the order.
    """
    order: list[int] = []
    position = 1
    for run in prepared.runs:
        order.extend(range(position, run[0][0]))
        shuffled = list(run)
        rng.shuffle(shuffled)
        for (start, code_end, _), (_, slot_code_end, slot_end) in zip(shuffled, run):
            order.extend(range(start, code_end + 1))
            order.extend(range(slot_code_end + 1, slot_end + 1))
        position = run[-1][2] + 1
    order.extend(range(position, line_count + 1))
    return order, {old: new for new, old in enumerate(order, start=1)}
