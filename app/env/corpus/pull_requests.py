"""Pull-request episodes: a module before, the diff of a pull request, and the bugs it brings.

A pull request is a handful of hunks on one base module. Some are benign rewrites
(``operators_benign``: each proved behaviour-preserving by the module's tests and exploits);
others plant verified bugs or vulnerabilities, as in the other tasks. How many bugs varies per
episode, from none (the right review is then an immediate ``submit_review``; two pull requests in
a hundred) to the task's maximum per category. The agent sees the code before and the unified diff; reported line
numbers are those of the code after the pull request (the ``+`` side of the diff).

Everything is drawn from the episode's stream (see ``generator.episode_stream``), so the
episode is as reproducible, and under a secret as private, as those of the other tasks.
"""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass, field
from typing import Mapping, Optional

from app.env.corpus.generator import (
    ATTEMPTS,
    EVERY_OPERATOR,
    SPARE_SITES,
    Generator,
    _covered,
    _renamed_lines,
    _reorder,
    _respelled,
    episode_stream,
)
from app.env.corpus.literals import LiteralStyle, varier
from app.env.corpus.modules import BaseModule, Site
from app.env.corpus.operators import OPERATORS_BY_NAME, window
from app.env.corpus.operators_benign import BENIGN_BY_NAME, WHOLE_FUNCTION
from app.env.diffs import apply_unified_diff
from app.env.models import CodeSnippet, Decoy, EpisodeSpec, IssueType, PlantedIssue

# Benign hunks per pull request: at least this many, so every pull request changes something.
MIN_BENIGN = 2
# The share of pull requests that plant nothing: often enough that a reviewer must be able to
# say so, rare enough that submitting every review at once never pays (2% expected success;
# at 3 in 100 one sample of 300 held 14, and a 40-episode sample crossed 5% one time in eight).
EMPTY_SHARE = 0.02
# How many bugs the other pull requests plant, by weight. A pull request whose one bug a pattern
# finds is reviewed in full by that pattern, so one-bug pull requests are the rarer kind.
BUG_COUNT_WEIGHTS = {1: 1, 2: 3, 3: 3, 4: 2}
# Unchanged lines kept between two hunks' windows, so that each change reads on its own.
HUNK_GAP = 2


@dataclass(frozen=True)
class PullRequestMix:
    """The most bugs per category a pull request plants, the most benign hunks, and the
    operators a category is planted from where it is restricted (every one otherwise)."""

    bugs: Mapping[IssueType, int]
    benign: int
    operators: Mapping[IssueType, frozenset[str]] = field(default_factory=lambda: EVERY_OPERATOR)


@dataclass(frozen=True)
class _Edit:
    line: int        # first line of the clean module the edit replaces
    replaced: int    # how many lines it replaces
    text: str        # the new lines, joined by newlines
    site: Site
    planted: bool


class PullRequests:
    """Generates pull-request episodes from a :class:`Generator`'s modules and catalogue."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self._benign: dict[tuple[str, str], tuple[Site, ...]] = {}

    def benign_sites(self, module: BaseModule) -> tuple[Site, ...]:
        """The module's verified benign rewrites, by key."""
        key = (module.name, module.digest)
        if key not in self._benign:
            self._benign[key] = tuple(sorted(self.generator.catalogue.benign(module), key=lambda s: s.key))
        return self._benign[key]

    def eligible(self, mix: PullRequestMix, split: str) -> tuple[BaseModule, ...]:
        """Modules of ``split`` able to carry the largest pull request of ``mix``."""
        bugs = {kind: count for kind, count in mix.bugs.items() if count}
        carriers = self.generator.eligible(bugs, split, mix.operators) if bugs else tuple(
            m for m in self.generator.modules if m.split == split)
        return tuple(m for m in carriers
                     if len({s.line for s in self.benign_sites(m)}) >= mix.benign + SPARE_SITES)

    def generate(self, task_name: str, mix: PullRequestMix, seed: int, split: str,
                 secret: Optional[bytes] = None) -> EpisodeSpec:
        """The pull-request episode ``(task_name, seed, split)``, under ``secret`` on an evaluation split.

        Raises:
            ValueError: no base module of ``split`` can carry ``mix``.
        """
        modules = self.eligible(mix, split)
        if not modules:
            raise ValueError(f"no verified base module of split {split!r} can carry a pull request of {mix}")
        stream = episode_stream(task_name, split, seed, secret)
        rng = random.Random(stream)
        for _ in range(ATTEMPTS):
            module = modules[rng.randrange(len(modules))]
            counts = _bug_counts(mix, rng)
            benign = rng.randint(MIN_BENIGN, max(MIN_BENIGN, mix.benign))
            episode = self._attempt(task_name, mix, counts, benign, seed, split, stream, module, rng)
            if episode is not None:
                return episode
        raise ValueError(f"could not generate {task_name} seed {seed} ({split}) in {ATTEMPTS} attempts")

    def _attempt(self, task_name: str, mix: PullRequestMix, counts: Mapping[IssueType, int], benign: int,
                 seed: int, split: str, stream: str, module: BaseModule,
                 rng: random.Random) -> Optional[EpisodeSpec]:
        generator = self.generator
        wanted = {kind: count for kind, count in counts.items() if count}
        chosen = generator._choose_sites(module, wanted, split, rng, mix.operators) if wanted else []
        if chosen is None:
            return None
        prepared = generator.prepared(module)
        renamed = _renamed_lines(module, prepared, rng)
        edits: list[_Edit] = []
        for site in chosen:
            operator = OPERATORS_BY_NAME[site.operator]
            text = window(renamed, site.line, operator.span)
            rewritten = None if text is None else operator.variant(site.variant).apply(text, module.rewrite_context)
            if rewritten is None:
                return None
            edits.append(_Edit(site.line, operator.span, rewritten, site, planted=True))
        edits += self._benign_edits(module, renamed, edits, benign, rng) or []
        if len(edits) < len(chosen) + benign:
            return None

        order, _ = _reorder(prepared, len(renamed), rng)
        style = LiteralStyle.draw(random.Random(f"{stream}|literals"))
        vary = varier(style)
        before = _respelled(renamed, module.string_lines, style)
        starts = {edit.line: edit for edit in edits}
        skipped = {n for edit in edits for n in range(edit.line + 1, edit.line + edit.replaced)}
        after: list[str] = []
        position: dict[int, int] = {}  # first after-line of each clean line kept or edited
        for number in order:
            if number in skipped:
                continue
            position[number] = len(after) + 1
            edit = starts.get(number)
            if edit is None:
                after.append(before[number - 1])
                continue
            new = edit.text.split("\n")
            # Lines inside multi-line strings keep their spelling, as in the code before; a
            # rewrite that keeps the line count (a rename) maps each line to its own.
            kept = {offset for offset in range(len(new))
                    if len(new) == edit.replaced and edit.line + offset in module.string_lines}
            after.extend(line if offset in kept else vary(line) for offset, line in enumerate(new))
        before_code = [before[number - 1] for number in order]

        issues, decoys = [], []
        for index, edit in enumerate(sorted((e for e in edits if e.planted), key=lambda e: position[e.line]), start=1):
            operator = OPERATORS_BY_NAME[edit.site.operator]
            first = position[edit.line]
            accepted = list(range(first, first + operator.span))
            accepted += [accepted[-1] + k for k in range(1, operator.trailing_accepted + 1) if accepted[-1] + k <= len(after)]
            issues.append(PlantedIssue(
                id=f"{edit.site.operator}-{index}", line_number=first, accepted_lines=tuple(accepted),
                issue_type=operator.issue_type, severity=operator.severity, description=operator.description,
                fix="\n".join(before[n - 1] for n in _covered(edit.site)), cwe=operator.cwe, kind=edit.site.operator,
            ))
        name = module.file_name
        diff = "\n".join(difflib.unified_diff(before_code, after, fromfile=f"a/{name}", tofile=f"b/{name}",
                                              lineterm="")) + "\n"
        added = apply_unified_diff("\n".join(before_code) + "\n", diff).added
        for edit in sorted((e for e in edits if not e.planted), key=lambda e: position[e.line]):
            # The benign hunk's lines the diff shows as added are its look-alikes (of two
            # swapped lines, the diff moves one).
            rewrite = BENIGN_BY_NAME[edit.site.operator]
            first = position[edit.line]
            for number in range(first, first + len(edit.text.split("\n"))):
                if number in added:
                    decoys.append(Decoy(id=f"benign-{edit.site.operator}-{number}", line_number=number,
                                        kind=f"benign_{edit.site.operator}", description=rewrite.description))
        snippet = CodeSnippet(code="\n".join(before_code) + "\n", language="python", file_name=name,
                              context=module.context)
        return EpisodeSpec(task_name=task_name, seed=seed, split=split, snippet=snippet, issues=tuple(issues),
                           decoys=tuple(decoys), origin=module.name, stream=stream, title=module.title,
                           diff=diff, changed_code="\n".join(after) + "\n")

    def _benign_edits(self, module: BaseModule, renamed: list[str], edits: list[_Edit], count: int,
                      rng: random.Random) -> Optional[list[_Edit]]:
        """``count`` benign rewrites, apart from each other and from the planted edits, preferring
        kinds not used yet."""
        pool = list(self.benign_sites(module))
        rng.shuffle(pool)
        taken: list[_Edit] = []
        used: set[str] = set()
        for relaxed in (False, True):
            for site in pool:
                if len(taken) == count:
                    break
                if (not relaxed and site.operator in used) or any(t.site == site for t in taken):
                    continue
                rewrite = BENIGN_BY_NAME[site.operator]
                span = rewrite.span
                if span == WHOLE_FUNCTION:
                    end = module._function_ends.get(site.line)
                    if end is None:
                        continue
                    span = end - site.line + 1
                if any(_apart(site.line, span, other.line, other.replaced) is False for other in edits + taken):
                    continue
                text = window(renamed, site.line, span)
                changed = None if text is None else rewrite.apply(text, module.rewrite_context)
                if changed is None or changed == text:
                    continue
                taken.append(_Edit(site.line, span, changed, site, planted=False))
                used.add(site.operator)
        return taken


def _bug_counts(mix: PullRequestMix, rng: random.Random) -> dict[IssueType, int]:
    """Bugs per category: none with :data:`EMPTY_SHARE`, else a total drawn by
    :data:`BUG_COUNT_WEIGHTS` (up to the mix's), spread over the categories at random within
    each one's maximum."""
    kinds = sorted(mix.bugs, key=lambda kind: kind.value)
    counts = {kind: 0 for kind in kinds}
    if rng.random() < EMPTY_SHARE:
        return counts
    slots = [kind for kind in kinds for _ in range(mix.bugs[kind])]
    totals = [total for total in sorted(BUG_COUNT_WEIGHTS) if total <= len(slots)] or [len(slots)]
    total = rng.choices(totals, weights=[BUG_COUNT_WEIGHTS.get(t, 1) for t in totals])[0]
    rng.shuffle(slots)
    for kind in slots[:total]:
        counts[kind] += 1
    return counts


def _apart(first: int, first_span: int, second: int, second_span: int) -> bool:
    """Whether two windows leave :data:`HUNK_GAP` unchanged lines between them."""
    return first + first_span - 1 + HUNK_GAP < second or second + second_span - 1 + HUNK_GAP < first
