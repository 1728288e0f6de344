"""How alike two base modules are, whatever their names: the guard against a split leaking into
another through a near-copy of one of its modules.

A module is reduced to its token stream with every name, string and number replaced by a
placeholder (keywords, operators and punctuation stay), so that renaming identifiers, respelling
literals or rewording comments does not hide a copy. Two modules are compared by the Jaccard
index of their sets of ``SHINGLE``-token windows; a window is a piece of code structure eight
tokens long, which unrelated modules share only through the commonest idioms.
"""

from __future__ import annotations

import io
import itertools
import keyword
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from app.env.corpus.modules import BaseModule

SHINGLE = 8
# Modules of different splits may share no more than this share of their code structure: more
# is a copy of one module, however renamed, with some of it rewritten. Modules written apart in
# one house style share their idioms (a signed token, an owner-filtered query) and stay well
# below it; tests/test_corpus_similarity.py measures both sides.
NEAR_DUPLICATE = 0.45

_SKIPPED = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                      tokenize.ENCODING, tokenize.ENDMARKER, tokenize.TYPE_COMMENT})


def structure_tokens(source: str) -> tuple[str, ...]:
    """The tokens of ``source`` with names, strings and numbers replaced by placeholders."""
    tokens: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            _add(tokens, token)
    except (tokenize.TokenError, SyntaxError):
        pass  # code that does not tokenize to the end is compared on what came before
    return tuple(tokens)


def _add(tokens: list[str], token: tokenize.TokenInfo) -> None:
    if token.type in _SKIPPED:
        return
    if token.type == tokenize.NAME:
        tokens.append(token.string if keyword.iskeyword(token.string) else "N")
    elif tokenize.tok_name[token.type] in ("STRING", "FSTRING_START"):
        tokens.append("S")
    elif tokenize.tok_name[token.type] in ("FSTRING_MIDDLE", "FSTRING_END"):
        return  # the rest of an f-string (Python 3.12 and later split it up)
    elif token.type == tokenize.NUMBER:
        tokens.append("0")
    else:
        tokens.append(token.string)


@lru_cache(maxsize=512)
def shingles(source: str) -> frozenset[tuple[str, ...]]:
    """Every window of :data:`SHINGLE` consecutive structure tokens of ``source``."""
    tokens = structure_tokens(source)
    return frozenset(tokens[i:i + SHINGLE] for i in range(max(0, len(tokens) - SHINGLE + 1)))


def similarity(first: str, second: str) -> float:
    """Jaccard index of the two sources' shingle sets (0.0 unrelated, 1.0 the same structure)."""
    a, b = shingles(first), shingles(second)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class Pair:
    """Two modules of different splits and how alike they are."""

    first: str
    second: str
    similarity: float


def cross_split_pairs(modules: Iterable[BaseModule]) -> list[Pair]:
    """Every pair of modules of different splits, the most alike first."""
    pairs = [
        Pair(a.name, b.name, similarity(a.source, b.source))
        for a, b in itertools.combinations(modules, 2) if a.split != b.split
    ]
    return sorted(pairs, key=lambda pair: (-pair.similarity, pair.first, pair.second))


def shared_domains(modules: Iterable[BaseModule]) -> dict[str, list[str]]:
    """Domains that modules of more than one split declare, with those modules (``split/name``)."""
    by_domain: dict[str, list[BaseModule]] = {}
    for module in modules:
        by_domain.setdefault(module.domain, []).append(module)
    return {
        domain: sorted(f"{m.split}/{m.name}" for m in members)
        for domain, members in sorted(by_domain.items())
        if len({m.split for m in members}) > 1
    }


def closest_elsewhere(module: BaseModule, modules: Iterable[BaseModule]) -> Pair | None:
    """The module of another split most alike ``module`` (``None`` when there is none)."""
    others = [Pair(module.name, other.name, similarity(module.source, other.source))
              for other in modules if other.split != module.split and other.name != module.name]
    return max(others, key=lambda pair: (pair.similarity, pair.second), default=None)
