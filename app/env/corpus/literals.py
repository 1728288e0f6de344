"""Literal variation: respell string and integer literals without changing any value.

Two spellings are varied, line by line, in the same way across a whole episode:

* quotes: a string literal whose body holds no quote character and no backslash may use ``"``
  or ``'`` (its value is the same either way; prefixes such as ``f``, ``r`` or ``b`` are kept,
  and an f-string qualifies only when its replacement fields hold no quote either, so nothing
  inside it changes);
* digit groups: a decimal integer of five digits or more may be written ``600000`` or
  ``600_000`` (``int`` reads both alike; floats, hex and numbers inside strings are left alone).

Triple-quoted strings, comments and anything after a string left open on the line are copied
unchanged, so a line that no longer parses (a planted syntax error) is varied only up to the
broken part. A change never spans lines, so line numbers stay where they were.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

QUOTE_STYLES = ("keep", "double", "single")
DIGIT_STYLES = ("keep", "grouped", "plain")
_GROUP_FROM = 5  # digits: 10000 becomes 10_000, 2024 stays a year

_INTEGER = re.compile(r"[0-9][0-9_]*")


@dataclass(frozen=True)
class LiteralStyle:
    """How one episode spells its literals.

    Attributes:
        quotes: ``keep`` the module's quotes, or use ``double`` / ``single`` wherever the body allows.
        digits: ``keep``, ``grouped`` (underscores every three digits from five digits up) or
            ``plain`` (no underscores).
    """

    quotes: str = "keep"
    digits: str = "keep"

    @classmethod
    def draw(cls, rng: random.Random) -> "LiteralStyle":
        """A style chosen by ``rng`` (two draws)."""
        return cls(quotes=QUOTE_STYLES[rng.randrange(len(QUOTE_STYLES))],
                   digits=DIGIT_STYLES[rng.randrange(len(DIGIT_STYLES))])


KEEP = LiteralStyle()
CANONICAL = LiteralStyle(quotes="double", digits="plain")


def _string_end(line: str, start: int, quote: str) -> int:
    """Index just past the closing ``quote`` of a string whose body starts at ``start`` (-1: open)."""
    index = start
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if line.startswith(quote, index):
            return index + len(quote)
        index += 1
    return -1


def _respell_integer(text: str, digits: str) -> str:
    plain = text.replace("_", "")
    if plain.startswith("0") or digits == "keep":
        return text
    if digits == "plain":
        return plain
    if len(plain) < _GROUP_FROM:
        return text
    head = len(plain) % 3 or 3
    return "_".join([plain[:head]] + [plain[i:i + 3] for i in range(head, len(plain), 3)])


@lru_cache(maxsize=None)  # one per style: nine at most
def varier(style: LiteralStyle) -> Callable[[str], str]:
    """:func:`vary_line` for one style, cached by the line alone (a generator varies a whole module
    per episode; keying its cache by the style too would hash the style once per line)."""
    return lru_cache(maxsize=16384)(partial(vary_line.__wrapped__, style=style))


@lru_cache(maxsize=65536)
def vary_line(line: str, style: LiteralStyle) -> str:
    """``line`` with its literals spelled in ``style``; the value of every literal is unchanged."""
    if style == KEEP or not any(c in line for c in "\"'0123456789"):
        return line
    out: list[str] = []
    index = 0
    length = len(line)
    while index < length:
        char = line[index]
        if char == "#":
            out.append(line[index:])
            break
        if char in "\"'":
            # A prefix (f, r, b, ...) was copied with the name before the quote and stays valid.
            if line.startswith(char * 3, index):
                end = _string_end(line, index + 3, char * 3)
                if end < 0:
                    out.append(line[index:])
                    break
                out.append(line[index:end])
                index = end
                continue
            end = _string_end(line, index + 1, char)
            if end < 0:
                out.append(line[index:])
                break
            body = line[index + 1:end - 1]
            target = {"double": '"', "single": "'"}.get(style.quotes, char)
            if target != char and not any(c in body for c in "\"'\\"):
                out.append(target + body + target)
            else:
                out.append(line[index:end])
            index = end
            continue
        if char.isalpha() or char == "_":
            end = index + 1
            while end < length and (line[end].isalnum() or line[end] == "_"):
                end += 1
            out.append(line[index:end])
            index = end
            continue
        if char in "0123456789":
            match = _INTEGER.match(line, index)
            end = match.end() if match else index + 1
            follows = line[end] if end < length else ""
            after_dot = index > 0 and line[index - 1] == "."
            if after_dot or follows in (".", "e", "E", "j", "J", "x", "X", "o", "O", "b", "B") or follows.isalpha():
                # part of a float, a complex, or a prefixed integer: copy the whole run as it is
                while end < length and (line[end].isalnum() or line[end] in "._"):
                    end += 1
                out.append(line[index:end])
            else:
                out.append(_respell_integer(line[index:end], style.digits))
            index = end
            continue
        out.append(char)
        index += 1
    return "".join(out)
