"""Blind policies: they report lines chosen without reading what the lines say.

They report with the task's category (read from its description). On a task asking for two
categories (``full_review``), consecutive reports alternate between them, so that the budget
covers as many distinct lines as it has steps and each category gets half of them.
"""

from __future__ import annotations

import random

from app.agents.adversarial.base import PlannedPolicy, issue, reported_categories
from app.agents.base import EpisodeContext, reviewed_code
from app.env import CodeIssue, CodeReviewerObservation

TRIPLE_QUOTES = ('"""', "'''")


class SubmitAtOnce(PlannedPolicy):
    """Submits the review on the first step without a report."""

    name = "submit_at_once"

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """Nothing to report."""
        return []


class RandomLines(PlannedPolicy):
    """Distinct random lines of the snippet with the task's category, until ``max_steps``.

    Seeded with the episode's seed: the same episode gets the same reports. Lines are drawn
    without replacement (a repeated report is a duplicate, which no sensible guesser plays).
    """

    name = "random"
    submits = False

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """``max_steps`` distinct lines (fewer when the snippet is shorter), in drawn order."""
        rng = random.Random(f"random|{self.seed}")
        line_count = max(1, len(reviewed_code(observation)[0].splitlines()))
        categories = reported_categories(observation)
        lines = rng.sample(range(1, line_count + 1), k=min(line_count, observation.max_steps))
        return [issue(line, categories[index % len(categories)], "guessed line")
                for index, line in enumerate(lines)]


class LineSweep(PlannedPolicy):
    """Lines 1, 2, 3, ... with the task's category, until ``max_steps``."""

    name = "line_sweep"
    submits = False

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """Lines 1 to ``max_steps``."""
        categories = reported_categories(observation)
        return [issue(line, categories[(line - 1) % len(categories)], "swept line")
                for line in range(1, observation.max_steps + 1)]


class FlagEveryLineOfCategory(PlannedPolicy):
    """Every line that holds code (not blank, not a comment, not inside a triple-quoted string),
    in order, with the task's category, until ``max_steps``: a sweep that skips what cannot be
    faulty."""

    name = "flag_every_line_of_category"
    submits = False

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """One report per code line, top to bottom."""
        categories = reported_categories(observation)
        lines = code_lines(reviewed_code(observation)[0])
        return [issue(line, categories[index % len(categories)], "flagged line")
                for index, line in enumerate(lines)]


def code_lines(code: str) -> list[int]:
    """Numbers of the lines holding code: blank lines, comments and the inside of triple-quoted
    strings are left out (a text scan: it must work on code that does not compile)."""
    numbers = []
    open_quote = None
    for number, text in enumerate(code.splitlines(), start=1):
        stripped = text.strip()
        if open_quote is not None:
            if text.count(open_quote) % 2 == 1:
                open_quote = None
            continue
        quote = next((q for q in TRIPLE_QUOTES if stripped.startswith(q) or f"= {q}" in stripped), None)
        if quote is not None and text.count(quote) % 2 == 1:
            open_quote = quote  # a string opened on this line and left open: skip its body
        if stripped and not stripped.startswith("#"):
            numbers.append(number)
    return numbers
