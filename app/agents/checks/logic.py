"""Logic bugs: a few AST heuristics for classic slips. Each is a smell, not a proof.

- ``for i in range(1, len(xs))`` indexing ``xs[i]``: the first element is skipped (unless the
  loop looks back at ``xs[i - 1]``, the scope reads ``xs[0]`` on its own or its docstring
  speaks of a header); likewise
  ``range(len(xs) - 1)`` skips the last one unless the loop looks ahead at ``xs[i + 1]``.
- A counted loop ``for _ in range(1, n)`` runs n - 1 times, unless the first round was done
  before the loop (a list started with one element that the loop appends to).
- A strict comparison with a minimum (``x > minimum``): minimums are reached, i.e. inclusive.
- ``i <= len(xs)`` guarding ``xs[i]``: one index too far.
- A mutable default argument (``def f(items=[])``): shared between calls.
- A loop whose body always returns: it never gets past its first item.
- A value computed and thrown away (a bare name or expression as a statement): a lost ``return``.
- A sum (``total += x.price``, not a count ``n += 1``) that starts at 1, or a product that
  starts at 0.
- A true division (``/``) whose float is used as a whole number: an index, the left side of
  ``%``, an argument of ``range()`` or ``date()``.
"""

from __future__ import annotations

import ast
import re
from typing import Iterator, Optional

from app.agents.checks.syntax import parse_module
from app.env import CodeIssue, IssueType, Severity

MINIMUM_NAME = re.compile(r"(^|_)(min|minimum|lower_bound)($|_)", re.IGNORECASE)
MUTABLE_FACTORIES = frozenset({"list", "dict", "set", "defaultdict", "OrderedDict"})
# Expressions that do nothing as statements (calls, awaits and yields do something).
INERT_EXPRESSIONS = (ast.Name, ast.Attribute, ast.Subscript, ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp,
                     ast.Tuple)
# Calls whose arguments must be whole numbers, and calls that make a float whole again.
WHOLE_NUMBER_CALLS = frozenset({"range", "date", "datetime"})
ROUNDING_CALLS = frozenset({"int", "round", "floor", "ceil", "trunc", "isqrt"})
Smell = tuple[int, Severity, str]
Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef


def find_logic_bugs(code: str) -> list[CodeIssue]:
    """Report the logic-bug smells of ``code``, one per line, by line (nothing if it does not parse)."""
    tree = parse_module(code)
    if tree is None:
        return []
    issues: dict[int, CodeIssue] = {}
    for line, severity, description in _smells(tree):
        issues.setdefault(line, CodeIssue(line_number=line, issue_type=IssueType.LOGIC_BUG,
                                          severity=severity, description=description))
    return [issues[line] for line in sorted(issues)]


def _smells(tree: ast.Module) -> Iterator[Smell]:
    scopes: list[Scope] = [tree, *(node for node in ast.walk(tree)
                                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))]
    for scope in scopes:
        own = list(_own_nodes(scope))
        if not isinstance(scope, ast.Module):
            yield from _mutable_defaults(scope)
        yield from _len_bound_off_by_one(own)
        yield from _accumulators(own)
        yield from _float_used_as_integer(own)
        for node in own:
            if isinstance(node, ast.For):
                yield from _range_off_by_one(node, own, _statements_before(scope, node), ast.get_docstring(scope) or "")
                if _always_returns(node.body):
                    yield (node.body[-1].lineno, Severity.HIGH,
                           "The loop body returns on every path: only the first item is ever looked at.")
            elif isinstance(node, ast.Compare) and _is_strict_minimum_check(node):
                yield (node.lineno, Severity.MEDIUM,
                       "Strict comparison with a minimum: a value equal to the minimum is excluded; "
                       "a minimum is reached at equality (use >=).")
            elif isinstance(node, ast.Expr) and _is_inert(node.value):
                yield (node.lineno, Severity.HIGH,
                       f"`{ast.unparse(node.value)}` is computed and thrown away: a missing return?")


def _is_inert(value: ast.expr) -> bool:
    # A string statement is a docstring or a comment, ``...`` a placeholder; a number is neither.
    if isinstance(value, ast.Constant):
        return not isinstance(value.value, str) and value.value is not Ellipsis
    return isinstance(value, INERT_EXPRESSIONS)


def _own_nodes(scope: Scope) -> Iterator[ast.AST]:
    """The nodes of a scope, not those of the functions defined inside it."""
    pending = list(ast.iter_child_nodes(scope))
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))


# ---------------------------------------------------------------------- loops


def _range_off_by_one(loop: ast.For, scope: list[ast.AST], before: list[ast.stmt], docstring: str) -> Iterator[Smell]:
    call = loop.iter
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"):
        return
    variable = loop.target.id if isinstance(loop.target, ast.Name) else None
    body_names = {n.id for stmt in loop.body for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    used = variable is not None and variable in body_names
    if len(call.args) == 1 and used:
        sequence = _len_argument(call.args[0], minus_one=True)
        if sequence is not None and not _steps_from(loop, variable, ast.Add):
            yield (loop.lineno, Severity.HIGH,
                   f"Off-by-one: range(len({sequence}) - 1) skips the last element of {sequence}.")
        return
    if not (len(call.args) == 2 and isinstance(call.args[0], ast.Constant) and call.args[0].value == 1):
        return
    bound = call.args[1]
    sequence = _len_argument(bound)
    if used:
        if (sequence is not None and not _steps_from(loop, variable, ast.Sub)
                and not _reads_first_element(scope, sequence) and "header" not in docstring.lower()):
            yield (loop.lineno, Severity.HIGH,
                   f"Off-by-one: range(1, len({sequence})) skips the first element of {sequence}.")
    elif not _first_round_done_before(loop, before):
        yield (loop.lineno, Severity.HIGH,
               f"Off-by-one: range(1, {ast.unparse(bound)}) repeats {ast.unparse(bound)} - 1 times, "
               "one round short.")


def _len_argument(node: ast.expr, minus_one: bool = False) -> Optional[str]:
    """``xs`` for ``len(xs)`` (``len(xs) - 1`` with ``minus_one``), else ``None``."""
    if minus_one:
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub)
                and isinstance(node.right, ast.Constant) and node.right.value == 1):
            return None
        node = node.left
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
            and len(node.args) == 1):
        return ast.unparse(node.args[0])
    return None


def _steps_from(loop: ast.For, variable: Optional[str], operator: type[ast.operator]) -> bool:
    # ``xs[i - 1]`` / ``xs[i + 1]``: comparing neighbours legitimately stops one short.
    return any(
        isinstance(node, ast.BinOp) and isinstance(node.op, operator)
        and isinstance(node.left, ast.Name) and node.left.id == variable
        for stmt in loop.body for node in ast.walk(stmt)
    )


def _reads_first_element(scope: list[ast.AST], sequence: str) -> bool:
    # ``header = rows[0]``: the first element is handled on its own, the loop skips it on purpose.
    return any(
        isinstance(node, ast.Subscript) and ast.unparse(node.value) == sequence
        and isinstance(node.slice, ast.Constant) and node.slice.value == 0
        for node in scope
    )


def _first_round_done_before(loop: ast.For, before: list[ast.stmt]) -> bool:
    """A list started with one element before the loop, then appended to in it."""
    appended = {
        node.func.value.id for stmt in loop.body for node in ast.walk(stmt)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "append" and isinstance(node.func.value, ast.Name)
    }
    return any(
        isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.List) and len(stmt.value.elts) == 1
        and any(isinstance(t, ast.Name) and t.id in appended for t in stmt.targets)
        for stmt in before
    )


def _statements_before(tree: ast.AST, target: ast.stmt) -> list[ast.stmt]:
    """The statements preceding ``target`` in its own block."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and target in block:
                return block[: block.index(target)]
    return []


def _always_returns(body: list[ast.stmt]) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return not _has_loop_control(body)
    if isinstance(last, ast.If):
        return _always_returns(last.body) and _always_returns(last.orelse) and not _has_loop_control(body)
    return False


def _has_loop_control(body: list[ast.stmt]) -> bool:
    return any(isinstance(node, (ast.Continue, ast.Break)) for stmt in body for node in ast.walk(stmt))


# ---------------------------------------------------------------------- comparisons and values


def _is_strict_minimum_check(node: ast.Compare) -> bool:
    if len(node.ops) != 1:
        return False
    operator, right = node.ops[0], node.comparators[0]
    if isinstance(operator, ast.Gt):
        return _is_minimum(right)
    if isinstance(operator, ast.Lt):
        return _is_minimum(node.left)
    return False


def _is_minimum(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    return name is not None and MINIMUM_NAME.search(name) is not None


def _len_bound_off_by_one(scope: list[ast.AST]) -> Iterator[Smell]:
    indexed = {(ast.unparse(node.value), ast.unparse(node.slice)) for node in scope if isinstance(node, ast.Subscript)}
    for node in scope:
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
            continue
        operator, left, right = node.ops[0], node.left, node.comparators[0]
        if isinstance(operator, ast.GtE):
            left, right = right, left
        elif not isinstance(operator, ast.LtE):
            continue
        sequence = _len_argument(right)
        if sequence is not None and (sequence, ast.unparse(left)) in indexed:
            yield (node.lineno, Severity.HIGH,
                   f"Off-by-one: {ast.unparse(left)} <= len({sequence}) lets the index reach "
                   f"len({sequence}), one past the last element.")


def _mutable_defaults(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Smell]:
    for default in [*function.args.defaults, *(d for d in function.args.kw_defaults if d is not None)]:
        literal = isinstance(default, (ast.List, ast.Dict, ast.Set))
        factory = (isinstance(default, ast.Call) and isinstance(default.func, ast.Name)
                   and default.func.id in MUTABLE_FACTORIES)
        if literal or factory:
            yield (default.lineno, Severity.MEDIUM,
                   f"Mutable default argument in {function.name}(): the same object is shared "
                   "by every call that omits it.")


def _accumulators(scope: list[ast.AST]) -> Iterator[Smell]:
    """A name set once to a constant, then only grown inside a loop with ``+=`` or ``*=``."""
    starts: dict[str, list[ast.Assign]] = {}
    for node in scope:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    starts.setdefault(target.id, []).append(node)
    growth: dict[str, set[type[ast.operator]]] = {}
    for loop in (node for node in scope if isinstance(node, (ast.For, ast.While))):
        for node in ast.walk(loop):
            # ``n += 1`` counts (a count may well start at 1); ``total += x.price`` sums.
            counting = isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) and isinstance(node.value, ast.Constant)
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and not counting:
                growth.setdefault(node.target.id, set()).add(type(node.op))
    for name, assignments in starts.items():
        if len(assignments) != 1 or not isinstance(assignments[0].value, ast.Constant):
            continue
        value = assignments[0].value.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if growth.get(name) == {ast.Add} and value == 1:
            yield (assignments[0].lineno, Severity.HIGH,
                   f"The sum `{name}` starts at 1 instead of 0.")
        elif growth.get(name) == {ast.Mult} and value == 0:
            yield (assignments[0].lineno, Severity.HIGH,
                   f"The product `{name}` starts at 0, so it stays 0.")


def _float_used_as_integer(scope: list[ast.AST]) -> Iterator[Smell]:
    """``x = a / b`` (or ``a / b`` in place) used as an index, a ``range`` bound or with ``%``."""
    divided = {
        target.id: node for node in scope if isinstance(node, ast.Assign) and _has_true_division(node.value)
        for target in node.targets if isinstance(target, ast.Name)
    }
    reassigned = {
        target.id for node in scope if isinstance(node, (ast.Assign, ast.AugAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and node not in divided.values()
    }
    for node in scope:
        for used in _whole_number_uses(node):
            if _has_true_division(used):
                yield (used.lineno, Severity.HIGH, "True division gives a float where a whole number is needed (use //).")
            for name in (n.id for n in ast.walk(used) if isinstance(n, ast.Name)):
                if name in divided and name not in reassigned:
                    yield (divided[name].lineno, Severity.HIGH,
                           f"`{name}` comes from a true division (a float) but is used as a whole "
                           "number (use //).")


def _whole_number_uses(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        return [node.slice]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and not isinstance(node.left, (ast.Constant, ast.JoinedStr)):
        return [node.left]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WHOLE_NUMBER_CALLS:
        return list(node.args)
    return []


def _has_true_division(node: ast.AST) -> bool:
    """A ``/`` in ``node`` whose float is not turned back into a whole number (``int(a / b)``)."""
    if isinstance(node, ast.Call) and _call_name(node) in ROUNDING_CALLS:
        return False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return True
    return any(_has_true_division(child) for child in ast.iter_child_nodes(node))


def _call_name(node: ast.Call) -> Optional[str]:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
