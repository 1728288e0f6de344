"""The compiler as a reviewer: report where ``compile()`` fails, silence that line, compile again.

No repair heuristics (those are the static reviewer's): the faulty line is replaced by a neutral
statement that keeps the block structure, so the next compile goes on past it. A syntax task
is expected to score high under this policy; the panel says so and does not threshold it.
"""

from __future__ import annotations

import ast
import warnings
from typing import Optional

from app.agents.adversarial.base import PlannedPolicy, issue
from app.agents.base import EpisodeContext, reviewed_code
from app.env import CodeIssue, CodeReviewerObservation, IssueType

SYNTAX = IssueType.SYNTAX_ERROR


class CompileLocator(PlannedPolicy):
    """Reports each line ``compile()`` blames, in the order it blames them."""

    name = "compile_locator"
    categories = frozenset({SYNTAX})

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """The blamed lines, at most ``max_steps - 1``."""
        return locate_compile_errors(reviewed_code(observation)[0], limit=max(0, observation.max_steps - 1))


def locate_compile_errors(code: str, limit: int) -> list[CodeIssue]:
    """Up to ``limit`` lines blamed by successive compilations of ``code``.

    Each blamed line is reported once, then replaced by ``pass`` (or ``if True:`` when the next
    code line is indented deeper, so its block still has a header) at the indentation of the
    previous code line when the compiler complained about indentation, else at its own. When
    the compiler blames a silenced line again, the fault lies above it (a bracket left open
    reads on into the next statement): the code line above is silenced too, unreported.
    """
    lines = code.splitlines()
    findings: list[CodeIssue] = []
    blamed: set[int] = set()
    silenced: set[int] = set()
    for _ in range(3 * max(limit, 1)):  # bounded: a neutralised line can surface new errors
        error = _first_error("\n".join(lines) + "\n")
        if error is None or len(findings) >= limit:
            break
        line = error.lineno or 0
        if not 1 <= line <= len(lines):
            break  # the compiler points past the end: silencing cannot help
        if line in blamed:
            above = next((n for n in range(line - 1, 0, -1) if lines[n - 1].strip() and n not in silenced), None)
            if above is None:
                break
            silenced.add(above)
            lines[above - 1] = _neutral(lines, above - 1, False)
            continue
        blamed.add(line)
        silenced.add(line)
        findings.append(issue(line, SYNTAX, f"SyntaxError: {error.msg}"))
        lines[line - 1] = _neutral(lines, line - 1, isinstance(error, IndentationError))
    return findings


def _first_error(source: str) -> Optional[SyntaxError]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like are not errors
        try:
            # Parsing only: what compile() checks after parsing ('return' outside a function)
            # would blame the body of a header already silenced.
            compile(source, "snippet.py", "exec", flags=ast.PyCF_ONLY_AST)
        except SyntaxError as error:
            return error
        except ValueError:  # a NUL byte: nothing to locate
            return None
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _neutral(lines: list[str], index: int, indentation_error: bool) -> str:
    previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
    following = next((lines[i] for i in range(index + 1, len(lines)) if lines[i].strip()), "")
    indent = _indent(lines[index])
    if indentation_error:
        indent = _indent(previous) + (4 if previous.rstrip().endswith(":") else 0)
    statement = "if True:" if following and _indent(following) > indent else "pass"
    return " " * indent + statement
