"""Unified diffs of pull-request episodes: the code after a pull request, from the code before
it and its diff, and which of its lines the pull request added or changed.

The diffs are those ``difflib.unified_diff`` writes (``app.env.corpus.pull_requests``); agents
use :func:`apply_unified_diff` to number their reports as the task asks, on the code after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class AppliedDiff:
    """The code after a diff and the (1-based) lines of it the diff added."""

    code: str
    added: frozenset[int]


def apply_unified_diff(before: str, diff: str) -> AppliedDiff:
    """Apply a unified diff of one file to ``before``.

    Raises:
        ValueError: a hunk does not match ``before`` (a context or removed line differs).
    """
    old = before.split("\n")
    if old and old[-1] == "":
        old.pop()
    new: list[str] = []
    added: set[int] = set()
    cursor = 0  # next line of ``old`` to copy
    lines = diff.split("\n")
    index = 0
    while index < len(lines):
        match = _HUNK.match(lines[index])
        index += 1
        if match is None:
            continue
        start = int(match.group(1)) - (0 if match.group(2) == "0" else 1)
        new.extend(old[cursor:start])
        cursor = start
        while index < len(lines) and not lines[index].startswith("@@"):
            line = lines[index]
            index += 1
            if line.startswith("+"):
                new.append(line[1:])
                added.add(len(new))
            elif line.startswith((" ", "-")):
                if cursor >= len(old) or old[cursor] != line[1:]:
                    raise ValueError(f"the diff does not apply: line {cursor + 1} differs")
                if line.startswith(" "):
                    new.append(old[cursor])
                cursor += 1
            elif line == "" and index == len(lines):
                break  # the diff's final newline
    new.extend(old[cursor:])
    return AppliedDiff(code="\n".join(new) + "\n", added=frozenset(added))
