"""Benign rewrites: the changes of a pull request that preserve behaviour.

A pull request mixes refactors with the changes that plant bugs; reporting a refactor is a false
positive. Each kind below is a named rewrite of a window of ``span`` lines with its own static
precondition (checked on the window: the rewrite returns ``None`` where it would not be
behaviour-preserving on its face), and every site is then proved benign by verification: the
module's tests pass on the rewritten module and none of its exploits succeeds there
(``app.corpus.verify.check_benign``). A rewrite may change the number of lines (a loop becomes a
comprehension, a branch gains a log line); the pull-request generator renumbers what follows.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Callable, Optional

from app.env.corpus.operators import NO_CONTEXT, RewriteContext, _code_part, _indent

# Calls a reordered statement may make: builtins without side effects.
_PURE_CALLS = frozenset({"abs", "bool", "dict", "divmod", "float", "frozenset", "int", "len", "list", "max", "min",
                         "round", "set", "sorted", "str", "sum", "tuple"})


# The variant name of every benign site (a benign rewrite has one way of applying).
BENIGN_VARIANT = "rewrite"
# ``span`` of a rewrite whose window is a whole function, from its ``def`` line (the site's line).
WHOLE_FUNCTION = 0


@dataclass(frozen=True)
class BenignRewrite:
    """A behaviour-preserving change of ``span`` lines (joined by newlines in and out; a
    :data:`WHOLE_FUNCTION` span takes the function whose ``def`` is on the site's line)."""

    name: str
    description: str
    span: int
    rewrite: Callable[[str, RewriteContext], Optional[str]]

    def apply(self, text: str, context: RewriteContext = NO_CONTEXT) -> Optional[str]:
        """The rewritten window (``None`` when the rewrite does not apply)."""
        return self.rewrite(text, context)


def _expression(text: str) -> Optional[ast.expr]:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


# ---------------------------------------------------------------------- emptiness by truthiness

_LEN_TEST = re.compile(r"(?<![\w.])len\(([\w.]+(?:\[[^\[\]]+\])?)\) (== 0|!= 0|> 0|>= 1)(?=:| and | or |\)|$)")


def _empty_check(text: str, context: RewriteContext) -> Optional[str]:
    """``if len(rows) == 0:`` -> ``if not rows:``; ``len(rows) > 0`` -> ``rows`` (conditions only)."""
    code = _code_part(text)
    if not re.match(r"^\s*(?:if|elif|while) ", code) or len(_LEN_TEST.findall(code)) != 1:
        return None
    match = _LEN_TEST.search(code)
    assert match is not None
    before = code[: match.start()]
    if not re.search(r"(?:\b(?:if|elif|while|and|or)|\() ?$", before):
        return None  # only where the test is a whole operand: `not` binds looser than a comparison
    value, comparison = match.groups()
    replacement = f"not {value}" if comparison == "== 0" else value
    return before + replacement + code[match.end():]


# ---------------------------------------------------------------------- augmented assignment

_SELF_ASSIGN = re.compile(r"^(\s*)([A-Za-z_]\w*) = \2 ([+\-*]) (.+)$")


def _augmented(text: str, context: RewriteContext) -> Optional[str]:
    """``total = total + amount`` -> ``total += amount`` when the right operand is one term."""
    match = _SELF_ASSIGN.match(_code_part(text))
    if match is None:
        return None
    indent, name, operator, operand = match.groups()
    node = _expression(operand)
    if node is None or isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.UnaryOp)):
        return None  # `x = x - a + b` is not `x -= a + b`
    return f"{indent}{name} {operator}= {operand}"


# ---------------------------------------------------------------------- independent statements

_SIMPLE_ASSIGN = re.compile(r"^(\s*)([A-Za-z_]\w*) = (.+)$")


def _pure(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Lambda)):
            return False
        if isinstance(sub, ast.Call) and not (isinstance(sub.func, ast.Name) and sub.func.id in _PURE_CALLS):
            return False
    return True


def _reorder(text: str, context: RewriteContext) -> Optional[str]:
    """Two adjacent assignments that neither read nor write each other's name, computed without
    calls that could have effects, in the other order."""
    first, _, second = text.partition("\n")
    a, b = _SIMPLE_ASSIGN.match(_code_part(first)), _SIMPLE_ASSIGN.match(_code_part(second))
    if a is None or b is None or a.group(1) != b.group(1) or a.group(2) == b.group(2):
        return None
    left, right = _expression(a.group(3)), _expression(b.group(3))
    if left is None or right is None or not _pure(left) or not _pure(right):
        return None
    if a.group(2) in _names(right) or b.group(2) in _names(left):
        return None
    return f"{second}\n{first}"


# ---------------------------------------------------------------------- chained comparison

_PAIR = re.compile(r"(?<![\w.\])])([\w.]+) (<=|<) ([A-Za-z_]\w*) and \3 (<=|<) ([\w.]+)(?![\w.(\[])")


def _chained(text: str, context: RewriteContext) -> Optional[str]:
    """``low <= value and value <= high`` -> ``low <= value <= high``."""
    code = _code_part(text)
    if len(_PAIR.findall(code)) != 1:
        return None
    return _PAIR.sub(r"\1 \2 \3 \4 \5", code)


# ---------------------------------------------------------------------- conditional to min / max

_CONDITIONAL = re.compile(r"^(\s*[A-Za-z_]\w* = |\s*return )([\w.]+) if \2 (<=|>=) ([\w.]+) else \4$")


def _min_max(text: str, context: RewriteContext) -> Optional[str]:
    """``a if a <= b else b`` -> ``min(a, b)`` (``>=``: ``max``): the same value, ties included."""
    match = _CONDITIONAL.match(_code_part(text))
    if match is None:
        return None
    head, first, comparison, second = match.groups()
    return f"{head}{'min' if comparison == '<=' else 'max'}({first}, {second})"


# ---------------------------------------------------------------------- loop to comprehension

_EMPTY_LIST = re.compile(r"^(\s*)([A-Za-z_]\w*) = \[\]$")
_FOR = re.compile(r"^(\s*)for ([A-Za-z_][\w, ]*) in (.+):$")
_APPEND = re.compile(r"^(\s*)([A-Za-z_]\w*)\.append\((.+)\)$")
_IF = re.compile(r"^(\s*)if (.+):$")


def _comprehension(filtered: bool) -> Callable[[str, RewriteContext], Optional[str]]:
    """``out = []`` / ``for x in xs:`` / [``if c:``] / ``out.append(e)`` -> ``out = [e for x in xs (if c)]``."""

    def rewrite(text: str, context: RewriteContext) -> Optional[str]:
        lines = [_code_part(line) for line in text.split("\n")]
        start, loop, *rest = lines
        empty, header = _EMPTY_LIST.match(start), _FOR.match(loop)
        if empty is None or header is None or header.group(1) != empty.group(1):
            return None
        condition = None
        if filtered:
            guard = _IF.match(rest[0])
            if guard is None or len(guard.group(1)) <= len(header.group(1)):
                return None
            condition, rest = guard.group(2), rest[1:]
        append = _APPEND.match(rest[0])
        if append is None or append.group(2) != empty.group(2) or len(append.group(1)) <= len(header.group(1)):
            return None
        name, element = empty.group(2), append.group(3)
        parts = [element, header.group(3), condition or "True"]
        if any(_expression(part) is None or name in _names(_expression(part)) for part in parts):
            return None  # the list itself read while it is built: not a comprehension
        suffix = f" if {condition}" if condition else ""
        return f"{empty.group(1)}{name} = [{element} for {header.group(2)} in {header.group(3)}{suffix}]"

    return rewrite


# ---------------------------------------------------------------------- a logged branch

_ONE_LINE_EXIT = re.compile(r"^(\s*)if (.+): (return(?: .+)?|continue)$")


def _logged_branch(text: str, context: RewriteContext) -> Optional[str]:
    """``if c: return x`` -> the same branch over three lines, logging at debug level first."""
    if context.logger is None:
        return None
    match = _ONE_LINE_EXIT.match(_code_part(text))
    if match is None:
        return None
    indent, condition, exit_statement = match.groups()
    inner = indent + "    "
    message = "skipping: %s" if exit_statement == "continue" else "returning early: %s"
    quoted = condition.replace("\\", "\\\\").replace('"', '\\"')
    return (f"{indent}if {condition}:\n{inner}{context.logger}.debug(\"{message}\", \"{quoted}\")\n"
            f"{inner}{exit_statement}")


def _expanded(text: str, context: RewriteContext) -> Optional[str]:
    """``total += amount`` -> ``total = total + amount`` (a compound operand is parenthesised)."""
    match = re.match(r"^(\s*)([A-Za-z_]\w*) ([+\-*])= (.+)$", _code_part(text))
    if match is None:
        return None
    indent, name, operator, operand = match.groups()
    node = _expression(operand)
    if node is None or isinstance(node, (ast.Lambda, ast.IfExp)):
        return None
    atom = not isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp))
    return f"{indent}{name} = {name} {operator} {operand if atom else f'({operand})'}"


def _len_check(text: str, context: RewriteContext) -> Optional[str]:
    """``if not rows:`` -> ``if len(rows) == 0:`` for a plain name or attribute."""
    match = re.match(r"^(\s*(?:if|elif|while) )not ([A-Za-z_]\w*)(:.*)$", _code_part(text))
    if match is None or match.group(3) != ":" and not match.group(3).startswith(": "):
        return None
    head, value, tail = match.groups()
    return f"{head}len({value}) == 0{tail}"


_COMPREHENSION = re.compile(r"^(\s*)([A-Za-z_]\w*) = \[(.+) for ([A-Za-z_][\w, ]*) in (.+?)(?: if (.+))?\]$")


def _comprehension_to_loop(text: str, context: RewriteContext) -> Optional[str]:
    """``out = [e for x in xs if c]`` -> the loop that builds it (three or four lines)."""
    match = _COMPREHENSION.match(_code_part(text))
    if match is None:
        return None
    indent, name, element, target, iterable, condition = match.groups()
    parts = [element, iterable] + ([condition] if condition else [])
    if any(_expression(part) is None for part in parts) or " for " in element or " for " in iterable:
        return None
    inner = indent + "    "
    lines = [f"{indent}{name} = []", f"{indent}for {target} in {iterable}:"]
    if condition:
        lines.append(f"{inner}if {condition}:")
        inner += "    "
    lines.append(f"{inner}{name}.append({element})")
    return "\n".join(lines)


def _explaining_variable(text: str, context: RewriteContext) -> Optional[str]:
    """``return <computation>`` -> the computation named first, then returned."""
    match = re.match(r"^(\s+)return (.+)$", _code_part(text))
    if match is None:
        return None
    indent, value = match.groups()
    node = _expression(value)
    if node is None or not isinstance(node, (ast.BinOp, ast.Call, ast.BoolOp, ast.Compare, ast.IfExp)):
        return None
    name = "outcome"
    if name in _names(node):
        return None
    return f"{indent}{name} = {value}\n{indent}return {name}"


# ---------------------------------------------------------------------- a query named first

# SQL verbs a query's name is made from (``select_sql`` ...): a new name, never a synonym the
# episode's renaming draws from.
_SQL_VERBS = ("select", "insert", "update", "delete")
_QUERY_METHODS = frozenset({"execute", "executemany"})
_SIMPLE_STATEMENTS = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return)


def _named_query(text: str, context: RewriteContext) -> Optional[str]:
    """``db.execute("SELECT ...", args)`` -> the SQL given a name on the line before, then passed
    by that name. Only on a line that is a whole simple statement, for a plain string literal
    whose name (from its verb) appears nowhere in the module."""
    indent = _indent(text)
    statement = text.strip()
    try:
        tree = ast.parse(statement)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], _SIMPLE_STATEMENTS):
        return None
    calls = [node for node in ast.walk(tree.body[0]) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr in _QUERY_METHODS and node.args]
    if len(calls) != 1:
        return None
    literal = calls[0].args[0]
    if not (isinstance(literal, ast.Constant) and isinstance(literal.value, str)
            and literal.lineno == literal.end_lineno == 1 and literal.end_col_offset is not None):
        return None
    verb = literal.value.strip().split(" ", 1)[0].lower()
    name = f"{verb}_sql"
    if verb not in _SQL_VERBS or name in context.words:
        return None
    encoded = statement.encode("utf-8")  # ast's columns count bytes
    source = encoded[literal.col_offset:literal.end_col_offset].decode("utf-8")
    if "\\" in source:
        return None
    call = (encoded[:literal.col_offset] + name.encode("utf-8") + encoded[literal.end_col_offset:]).decode("utf-8")
    return f"{indent}{name} = {source}\n{indent}{call}"


# ---------------------------------------------------------------------- rename a local

_RENAMES = {"total": "running_total", "count": "tally", "result": "collected", "rows": "records", "items": "entries",
            "value": "current", "parts": "pieces", "start": "begin", "end": "finish", "line": "text_line",
            "data": "payload", "row": "record", "out": "output", "seen": "visited", "best": "leader"}


def _rename_local(text: str) -> Optional[str]:
    """The function's first renamable local (bound by ``name = ...`` before any use, not a
    parameter) renamed everywhere in the function; never a name also read as an attribute,
    passed as a keyword argument or spelled inside a string (an f-string keeps the old name)."""
    import io
    import textwrap
    import tokenize

    lines = text.split("\n")
    try:
        function = ast.parse(textwrap.dedent(text)).body[0]
        tokens = list(tokenize.generate_tokens(io.StringIO(text + "\n").readline))
    except (SyntaxError, IndexError, tokenize.TokenError):
        return None
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    parameters = {a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs,
                                  function.args.vararg, function.args.kwarg) if a is not None}
    names = [t for t in tokens if t.type == tokenize.NAME]
    for node in sorted(ast.walk(function), key=lambda n: getattr(n, "lineno", 0)):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        old = node.targets[0].id
        if old not in _RENAMES or old in parameters or any(t.string == _RENAMES[old] for t in names):
            continue
        uses = [index for index, t in enumerate(tokens) if t.type == tokenize.NAME and t.string == old]
        if len(uses) < 2 or tokens[uses[0]].start[0] != node.lineno:
            continue  # used before it is bound here (or barely used): not this one
        if any(t.type == tokenize.STRING and re.search(rf"\b{old}\b", t.string) for t in tokens):
            continue
        if any(tokens[i - 1].string == "." or (tokens[i + 1].string == "=" and tokens[i - 1].string in ("(", ","))
               for i in uses):
            continue
        out = list(lines)
        for index in sorted(uses, key=lambda i: tokens[i].start, reverse=True):
            row, col = tokens[index].start
            out[row - 1] = out[row - 1][:col] + _RENAMES[old] + out[row - 1][col + len(old):]
        return "\n".join(out)
    return None

BENIGN_REWRITES: tuple[BenignRewrite, ...] = (
    BenignRewrite("empty_check", "Emptiness tested by truthiness instead of len().", 1, _empty_check),
    BenignRewrite("augmented_assignment", "Self-assignment written as an augmented assignment.", 1, _augmented),
    BenignRewrite("reorder_independent", "Two independent assignments reordered.", 2, _reorder),
    BenignRewrite("chained_comparison", "Two range comparisons chained.", 1, _chained),
    BenignRewrite("conditional_to_min_max", "A conditional expression replaced by min() or max().", 1, _min_max),
    BenignRewrite("loop_to_comprehension", "A list-building loop replaced by a comprehension.", 3, _comprehension(False)),
    BenignRewrite("filtered_loop_to_comprehension", "A filtering list-building loop replaced by a comprehension.",
                  4, _comprehension(True)),
    BenignRewrite("logged_branch", "An early exit given a debug log line.", 1, _logged_branch),
    BenignRewrite("expanded_assignment", "An augmented assignment written out.", 1, _expanded),
    BenignRewrite("len_check", "Emptiness tested with len() instead of truthiness.", 1, _len_check),
    BenignRewrite("comprehension_to_loop", "A list comprehension written as a loop.", 1, _comprehension_to_loop),
    BenignRewrite("explaining_variable", "A returned computation named before it is returned.", 1, _explaining_variable),
    BenignRewrite("named_query", "A query's SQL given a name before the call that runs it.", 1, _named_query),
    BenignRewrite("rename_local", "A local variable renamed throughout its function.", WHOLE_FUNCTION,
                  lambda text, context: _rename_local(text)),
)
BENIGN_BY_NAME: dict[str, BenignRewrite] = {rewrite.name: rewrite for rewrite in BENIGN_REWRITES}
