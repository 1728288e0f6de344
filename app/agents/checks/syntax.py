"""Syntax errors, one after another: compile, repair the reported line in a copy, compile again.

``compile()`` stops at the first error. To find the next one the faulty line is repaired with
a heuristic fix for the message (add the missing ``:``, close the string or bracket, ``=`` ->
``==``, insert the forgotten comma, re-indent), or, when no fix applies or the fix fails, the
line is replaced by a neutral statement of the same indentation. ``tokenize`` locates where a
fix goes; each line is reported once.

Some faults surface lines later; the line that caused them is reported and repaired instead:
a bracket left open (the parser reads on into the next statement), a block whose first line is
indented deeper than the rest ("unindent does not match"), a one-line docstring that lost its
closing quotes (the next docstring is blamed).
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from app.env import CodeIssue, IssueType, Severity

# Words that start a statement and can never continue an expression inside brackets.
STATEMENT_KEYWORDS = frozenset({
    "@", "assert", "async", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "finally", "for", "from", "global", "import", "nonlocal", "pass", "raise", "return", "try",
    "while", "with",
})
LOOP_HEADER = re.compile(r"(async\s+)?(for|while)\b")
BLOCK_KEYWORDS = re.compile(r"(async\s+)?(def|class|if|elif|else|for|while|with|try|except|finally|match|case)\b")
OPERAND_END = {tokenize.NAME, tokenize.NUMBER, tokenize.STRING}
CLOSING = {")": "(", "]": "[", "}": "{"}
OPENING_TO_CLOSING = {"(": ")", "[": "]", "{": "}"}
MAX_STRING_CANDIDATES = 20


def find_syntax_errors(code: str, file_name: str = "snippet.py", limit: int = 20) -> list[CodeIssue]:
    """Report up to ``limit`` syntax errors of ``code``, in the order the compiler meets them.

    Args:
        code: Python source.
        file_name: Name used in compiler messages.
        limit: Most errors to report; the number of compile attempts is bounded by 3 x limit.

    Returns:
        One ``syntax_error`` issue per faulty line, with the compiler's message and, when a
        heuristic fix applied, the repaired line as ``suggested_fix``.
    """
    lines = code.splitlines()
    issues: list[CodeIssue] = []
    reported: set[int] = set()
    neutralised: set[int] = set()
    for _ in range(3 * limit):
        error = _first_error("\n".join(lines) + "\n", file_name)
        if error is None or not error.lineno or not 1 <= error.lineno <= len(lines):
            break
        diagnosis = _diagnose(lines, error)
        if diagnosis.line in reported:
            # The repair did not hold (or a new error surfaced on the same line): silence the
            # line the compiler points at instead of reporting it twice.
            if error.lineno in neutralised:
                break
            lines[error.lineno - 1] = _neutral_statement(lines, error.lineno - 1)
            neutralised.add(error.lineno)
            continue
        if len(issues) >= limit:
            break
        reported.add(diagnosis.line)
        same_line = diagnosis.repaired_line == diagnosis.line
        issues.append(CodeIssue(
            line_number=diagnosis.line, issue_type=IssueType.SYNTAX_ERROR, severity=Severity.HIGH,
            description=f"SyntaxError: {diagnosis.message}",
            suggested_fix=diagnosis.repair.strip() if diagnosis.repair is not None and same_line else None,
        ))
        if diagnosis.repair is None:
            lines[error.lineno - 1] = _neutral_statement(lines, error.lineno - 1)
            neutralised.add(error.lineno)
        else:
            lines[diagnosis.repaired_line - 1] = diagnosis.repair
    return issues


@dataclass(frozen=True)
class _Diagnosis:
    """Where an error really is, and the repair that lets compilation go on past it."""

    line: int  # the faulty line, to report
    message: str
    repaired_line: int  # the line the repair rewrites
    repair: Optional[str]  # its new text; ``None`` when no repair is known


def _diagnose(lines: list[str], error: SyntaxError) -> _Diagnosis:
    assert error.lineno is not None
    index = error.lineno - 1
    # A bracket left open lets the parser read on into the next statement, where it fails
    # with a bare "invalid syntax": the fault is the bracket's line; close everything at the
    # end of the statement. (Tokenizer errors met while reading on are faults of their own.)
    still_open = _open_brackets_before(lines, error.lineno) if error.msg.startswith("invalid syntax") else []
    if still_open and _starts_new_statement(lines[index], lines[still_open[-1][0] - 1]):
        opened_at, bracket = still_open[-1]
        last = max(n for n in range(1, error.lineno) if lines[n - 1].strip())
        code, comment = _split_comment(lines[last - 1])
        closers = "".join(OPENING_TO_CLOSING[char] for _, char in reversed(still_open))
        return _Diagnosis(opened_at, f"'{bracket}' was never closed", last, code + closers + comment)
    if error.msg.startswith("unterminated"):
        opener = _unclosed_one_line_string(lines, error)
        if opener is not None:
            return _Diagnosis(opener[0] + 1, "unterminated triple-quoted string literal", opener[0] + 1, opener[1])
    if error.msg.startswith("unindent does not match"):
        first = _deeper_first_line_of_block(lines, index)
        if first is not None:
            # The block's first line set a deeper indentation than the rest of the block uses.
            repair = " " * _indent(lines[index]) + lines[first].lstrip()
            return _Diagnosis(first + 1, "unexpected indent: the line is indented deeper than its block",
                              first + 1, repair)
    return _Diagnosis(error.lineno, error.msg, error.lineno, _heuristic_fix(lines[index], error, lines[:index]))


def _unclosed_one_line_string(lines: list[str], error: SyntaxError) -> Optional[tuple[int, str]]:
    """``(index, repaired line)`` of an earlier one-line docstring that lost its closing quotes.

    Its string then runs on to the next docstring's opening quotes, and the compiler blames the
    next docstring. Candidates are earlier lines that open a string going on past the quotes
    whose next quotes do not close it (the opener of a multi-line docstring is followed by its
    lone closing quotes); nearest first, the first whose closing makes the error go away is it.
    """
    assert error.lineno is not None
    # The misread docstring's quotes stand on the blamed line (its own opening quotes, or the
    # closing ones read as an opening, leaving an apostrophe of its text unterminated).
    quote = next((q for q in ('"""', "'''") if q in lines[error.lineno - 1]), None)
    if quote is None:
        return None
    with_quote = [n for n in range(error.lineno) if quote in lines[n]]

    def closes(index: int) -> bool:
        return lines[index].count(quote) == 1 and lines[index].rstrip().endswith(quote)

    candidates = [
        n for n, following in reversed(list(zip(with_quote, with_quote[1:])))
        if lines[n].count(quote) == 1 and not lines[n].rstrip().endswith(quote) and not closes(following)
    ]
    for index in candidates[:MAX_STRING_CANDIDATES]:
        repaired = lines[index].rstrip() + quote
        trial = _first_error("\n".join([*lines[:index], repaired, *lines[index + 1:]]) + "\n", "trial.py")
        if trial is None or not (trial.msg.startswith("unterminated") and trial.lineno == error.lineno):
            return index, repaired
    return None


def _deeper_first_line_of_block(lines: list[str], index: int) -> Optional[int]:
    """Index of the first line of the block holding ``lines[index]`` when it is indented deeper
    than ``lines[index]`` (which then "does not match any outer indentation level")."""
    target = _indent(lines[index])
    code_lines = _statement_starts(lines[:index])
    for position in range(len(code_lines) - 1, 0, -1):
        candidate, header = code_lines[position], lines[code_lines[position - 1]]
        if _indent(lines[candidate]) <= target:
            return None
        if header.rstrip().endswith(":"):
            # Blame the first line only if the line the compiler points at is indented one
            # step in from the header, where the block belongs.
            return candidate if target - _indent(header) == _indent_step(lines) else None
    return None


def _statement_starts(lines: list[str]) -> list[int]:
    """Indices of the lines that begin a statement (not the inside of a string or brackets)."""
    starts: list[int] = []
    at_start = True
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if token.type == tokenize.NEWLINE:
                at_start = True
            elif at_start and token.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT,
                                                 tokenize.DEDENT, tokenize.ENDMARKER):
                starts.append(token.start[0] - 1)
                at_start = False
    except (tokenize.TokenError, SyntaxError):
        pass
    return starts


def _indent_step(lines: list[str]) -> int:
    """The module's usual indentation step: the commonest indent added after a ``:`` header."""
    steps = Counter(
        _indent(following) - _indent(header)
        for header, following in zip(lines, lines[1:])
        if header.rstrip().endswith(":") and following.strip() and _indent(following) > _indent(header)
    )
    return steps.most_common(1)[0][0] if steps else 4


def _open_brackets_before(lines: list[str], lineno: int) -> list[tuple[int, str]]:
    """``(line, bracket)`` of the brackets opened before line ``lineno`` and still open there."""
    stack: list[tuple[int, str]] = []
    source = "\n".join(lines[: lineno - 1]) + "\n"
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.OP and token.string in OPENING_TO_CLOSING:
                stack.append((token.start[0], token.string))
            elif token.type == tokenize.OP and token.string in CLOSING and stack:
                stack.pop()
    except (tokenize.TokenError, SyntaxError):
        pass  # "EOF in multi-line statement": exactly the case looked for
    return stack


def _starts_new_statement(line: str, opener: str) -> bool:
    """Whether ``line`` cannot continue the bracket opened on ``opener``: it begins with a
    statement keyword, or is indented no deeper than the line that opened the bracket."""
    stripped = line.strip()
    first = re.match(r"@|[A-Za-z_]+", stripped)
    if first is not None and first.group() in STATEMENT_KEYWORDS:
        return True
    return bool(stripped) and _indent(line) <= _indent(opener)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_module(code: str) -> Optional[ast.Module]:
    """``ast.parse`` without warnings (a regex's ``"\\d"`` is no finding); ``None`` if it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(code)
        except (SyntaxError, ValueError):
            return None


def _first_error(source: str, file_name: str) -> Optional[SyntaxError]:
    with warnings.catch_warnings():
        # SyntaxWarnings (``is`` with a literal, bad escapes) are not errors; under
        # ``-W error`` they would surface as SyntaxError.
        warnings.simplefilter("ignore")
        try:
            compile(source, file_name, "exec", dont_inherit=True)
        except SyntaxError as exc:  # IndentationError and TabError included
            return exc
        except ValueError:  # null bytes: nothing more to learn
            return None
    return None


def _heuristic_fix(line: str, error: SyntaxError, before: list[str]) -> Optional[str]:
    """The line repaired for ``error``'s message, or ``None`` when no fix is known."""
    message = error.msg
    offset = (error.offset or 1) - 1
    code, comment = _split_comment(line)
    if message.startswith("expected ':'"):
        return code.rstrip() + ":" + comment
    if message.startswith("unterminated string literal"):
        return _close_string(code, comment, offset)
    never_closed = re.match(r"'([(\[{])' was never closed", message)
    if never_closed:
        return code.rstrip() + OPENING_TO_CLOSING[never_closed.group(1)] + comment
    if "Maybe you meant '==' " in message:
        return _replace_assignment(line, offset)
    if "Perhaps you forgot a comma" in message:
        return _insert_comma(line, offset, _end_offset(error, line))
    if message.startswith("unexpected indent"):
        return _indent_of(before) + line.lstrip()
    if message.startswith("unindent does not match"):
        return " " * _enclosing_indent(before, _indent(line)) + line.lstrip()
    if message.startswith("expected an indented block"):
        return _indent_of(before) + "    " + line.lstrip()
    return None


def _end_offset(error: SyntaxError, line: str) -> int:
    if getattr(error, "end_lineno", None) == error.lineno and (getattr(error, "end_offset", 0) or 0) > 0:
        return error.end_offset - 1  # type: ignore[operator]
    return len(line)


def _line_tokens(line: str) -> list[tokenize.TokenInfo]:
    """Tokens of one physical line; a line that does not tokenise whole yields what it can."""
    tokens: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.lstrip() + "\n").readline):
            tokens.append(token)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    shift = len(line) - len(line.lstrip())
    return [token._replace(start=(1, token.start[1] + shift), end=(1, token.end[1] + shift))
            for token in tokens]


def _split_comment(line: str) -> tuple[str, str]:
    """``(code, comment)`` of a line; the comment keeps its leading spaces."""
    for token in _line_tokens(line):
        if token.type == tokenize.COMMENT:
            start = token.start[1]
            code = line[:start]
            return code.rstrip(), line[len(code.rstrip()):]
    return line.rstrip(), ""


def _close_string(code: str, comment: str, start: int) -> Optional[str]:
    # Put the missing quote at the last place that leaves the line whole and balanced:
    # ``KeyError("Unknown: + sku)`` -> ``KeyError("Unknown: + sku")``.
    quote = next((char for char in code[start:] if char in "'\""), None)
    if quote is None:
        return None
    for position in range(len(code), start + 1, -1):
        candidate = code[:position] + quote + code[position:]
        if _is_balanced(candidate):
            return candidate + comment
    return None


def _is_balanced(line: str) -> bool:
    """Whether a line tokenises whole with every bracket closed."""
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            if token.type == tokenize.ERRORTOKEN:
                return False
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in CLOSING:
                depth -= 1
                if depth < 0:
                    return False
    except (tokenize.TokenError, SyntaxError):
        return False
    return depth == 0


def _replace_assignment(line: str, start: int) -> Optional[str]:
    # The error marks the assignment's target; the ``=`` follows it.
    for token in _line_tokens(line):
        if token.type == tokenize.OP and token.string == "=" and token.start[1] >= start:
            column = token.start[1]
            return line[:column] + "==" + line[column + 1:]
    return None


def _insert_comma(line: str, start: int, end: int) -> Optional[str]:
    # Between two operands that touch (``item.sku "name"``) inside the reported range.
    tokens = [t for t in _line_tokens(line) if t.type not in (tokenize.NEWLINE, tokenize.NL)]
    for left, right in zip(tokens, tokens[1:]):
        left_ends_operand = left.type in OPERAND_END or left.string in CLOSING
        # ``f (`` and ``x [`` are a call and a subscript; only ``{`` can start a new operand.
        right_starts_operand = right.type in OPERAND_END or right.string == "{"
        if (left_ends_operand and right_starts_operand and start <= left.start[1] and right.start[1] < end
                and not keyword.iskeyword(left.string) and not keyword.iskeyword(right.string)):
            column = left.end[1]
            return line[:column] + "," + line[column:]
    return None


def _indent_of(before: list[str]) -> str:
    for previous in reversed(before):
        if previous.strip():
            indent = previous[: len(previous) - len(previous.lstrip())]
            return indent + "    " if previous.rstrip().endswith(":") else indent
    return ""


def _enclosing_indent(before: list[str], indent: int) -> int:
    """The deepest indentation level of the lines before that is not deeper than ``indent``."""
    return next((_indent(line) for line in reversed(before) if line.strip() and _indent(line) <= indent), 0)


def _neutral_statement(lines: list[str], index: int) -> str:
    """A statement that parses in place of ``lines[index]``: a block header stays a header that
    keeps its body legal (``break`` in a loop, ``return`` in a function)."""
    line = lines[index]
    indent = line[: len(line) - len(line.lstrip())]
    stripped = line.strip()
    if not stripped:
        return line
    if LOOP_HEADER.match(stripped):
        return f"{indent}while True:"
    if stripped.endswith(":") or BLOCK_KEYWORDS.match(stripped):
        return f"{indent}if True:" if _inside_function(lines, index) else f"{indent}def _():"
    return f"{indent}pass"


def _inside_function(lines: list[str], index: int) -> bool:
    """Whether an enclosing line (less indented, above) is a ``def``."""
    indent = _indent(lines[index])
    for line in reversed(lines[:index]):
        if line.strip() and _indent(line) < indent:
            if re.match(r"(async\s+)?def\b", line.strip()):
                return True
            indent = _indent(line)
    return False
