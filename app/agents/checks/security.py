"""Vulnerabilities: Bandit's findings, plus two taint checks Bandit does not make.

Bandit runs as a library (``BanditManager`` over a temporary file). Its import-blacklist notes
(``B4xx``: "consider the implications of importing pickle") and code-quality notes
(``try/except/pass``, ``subprocess`` without a shell or by a bare name) point at no vulnerability
and are dropped; ``assert`` counts only where it guards access, ``random`` only where it makes a
secret. Every other finding becomes a ``security_vulnerability`` with Bandit's CWE.

The AST checks follow data from a function's parameters (untrusted input) through assignments,
methods and a few builtins, stopping at a sanitiser or any other function, into two sinks: HTML
built by an f-string, ``+`` or ``%`` (XSS, CWE-79; numbers formatted as numbers are safe) and the
path given to ``open()`` (path traversal, CWE-22, reported where the path is built).
"""

from __future__ import annotations

import ast
import re
from typing import Iterator, Optional

from app.agents.checks.syntax import parse_module
from app.bandit_runner import run_bandit
from app.env import CodeIssue, IssueType, Severity

# Notes, not vulnerabilities: try_except_pass, try_except_continue,
# subprocess_without_shell_equals_true, start_process_with_partial_path (and every B4xx import
# blacklist, below).
INFORMATIONAL_TESTS = frozenset({"B110", "B112", "B603", "B607"})
# Findings that are vulnerabilities only in context: an ``assert`` (removed by ``python -O``)
# that guards access, a non-cryptographic random number that makes a secret.
CONTEXTUAL_TESTS = {
    "B101": re.compile(r"admin|auth|permission|role|owner|staff|superuser|allowed|privilege|access", re.I),
    "B311": re.compile(r"token|secret|passw|salt|nonce|key|otp|code|session|reset|csrf|pin\b", re.I),
}
# Weaknesses that hand an attacker code or command execution, or the database.
CRITICAL_CWES = frozenset({78, 89, 94, 95, 502})
BANDIT_SEVERITY = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}

HTML_SANITISERS = frozenset({"escape", "clean", "int", "float", "bool", "len"})
PATH_SANITISERS = frozenset({"basename", "secure_filename", "int", "float", "bool", "len"})
OPEN_CALLS = frozenset({"open", "io.open", "os.open", "codecs.open", "send_file"})
# Builtins whose result carries their argument's data.
PASS_THROUGH_CALLS = frozenset({"str", "repr", "format", "list", "tuple", "dict", "sorted", "reversed",
                                "next", "iter", "max", "min"})
NUMERIC_FORMAT_TYPES = frozenset("bcdeEfFgGnoxX%")
HTML_TAG = "<"


def find_vulnerabilities(code: str) -> list[CodeIssue]:
    """Report the vulnerabilities Bandit and the taint checks find, one per line, by line.

    Code that does not parse yields nothing (Bandit skips it too).
    """
    tree = parse_module(code)
    if tree is None:
        return []
    issues: dict[int, CodeIssue] = {}
    for issue in [*_bandit_issues(code, tree), *_taint_issues(tree)]:
        issues.setdefault(issue.line_number, issue)
    return [issues[line] for line in sorted(issues)]


# ---------------------------------------------------------------------- Bandit


def _bandit_issues(code: str, tree: ast.Module) -> list[CodeIssue]:
    results = run_bandit(code)
    lines = code.splitlines()
    issues = []
    for result in results:
        if result.test_id in INFORMATIONAL_TESTS or result.test_id.startswith("B4"):
            continue
        context = CONTEXTUAL_TESTS.get(result.test_id)
        if context is not None:
            where = f"{lines[result.lineno - 1]} {_enclosing_function_name(tree, result.lineno)}"
            if not context.search(where):
                continue
        cwe = result.cwe.id or None
        severity = Severity.CRITICAL if cwe in CRITICAL_CWES else BANDIT_SEVERITY.get(result.severity, Severity.MEDIUM)
        label = f"CWE-{cwe}, " if cwe else ""
        issues.append(CodeIssue(
            line_number=result.lineno, issue_type=IssueType.SECURITY_VULNERABILITY, severity=severity,
            description=f"{result.text} ({label}Bandit {result.test_id} {result.test})",
        ))
    return issues


def _enclosing_function_name(tree: ast.Module, line: int) -> str:
    names = [node.name for node in ast.walk(tree)
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and node.lineno <= line <= (node.end_lineno or node.lineno)]
    return names[-1] if names else ""


# ---------------------------------------------------------------------- taint checks


def _taint_issues(tree: ast.AST) -> Iterator[CodeIssue]:
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        html_tainted = _tainted_names(function, HTML_SANITISERS, html=True)
        path_tainted = _tainted_names(function, PATH_SANITISERS)
        for node in ast.walk(function):
            if _is_html_building(node) and _is_tainted(node, html_tainted, HTML_SANITISERS):
                yield CodeIssue(
                    line_number=node.lineno, issue_type=IssueType.SECURITY_VULNERABILITY,
                    severity=Severity.HIGH,
                    description="Cross-site scripting: HTML is built from unescaped input of the "
                                "function's caller (CWE-79); escape it with html.escape().",
                )
            elif (isinstance(node, ast.Call) and _dotted_name(node.func) in OPEN_CALLS and node.args
                  and _is_tainted(node.args[0], path_tainted, PATH_SANITISERS)):
                yield CodeIssue(
                    line_number=_where_built(function, node.args[0], node.lineno, path_tainted),
                    issue_type=IssueType.SECURITY_VULNERABILITY,
                    severity=Severity.HIGH,
                    description="Path traversal: a file is opened at a path built from unchecked "
                                "input (CWE-22); '../' or an absolute path escapes the folder.",
                )


def _tainted_names(function: ast.FunctionDef | ast.AsyncFunctionDef, sanitisers: frozenset[str],
                   html: bool = False) -> set[str]:
    """Names holding data derived from the parameters, not passed through a sanitiser.

    With ``html``, a name holding built HTML is left out: an unescaped input in it is reported
    where that HTML was built, not again wherever the fragment is assembled into a page.
    """
    arguments = function.args
    parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                  *(a for a in (arguments.vararg, arguments.kwarg) if a is not None)]
    tainted = {p.arg for p in parameters if p.arg not in ("self", "cls")}
    # Two passes reach a fixed point for the straight-line code of typical handlers.
    for _ in range(2):
        for node in ast.walk(function):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if html and any(_is_html_building(part) for part in ast.walk(node.value)):
                    continue
                if _is_tainted(node.value, tainted, sanitisers):
                    tainted.update(_assigned_names(targets))
            elif isinstance(node, (ast.For, ast.AsyncFor)) and _is_tainted(node.iter, tainted, sanitisers):
                tainted.update(_assigned_names([node.target]))
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None and _is_tainted(item.context_expr, tainted, sanitisers):
                        tainted.update(_assigned_names([item.optional_vars]))
    return tainted


def _assigned_names(targets: list[ast.expr]) -> set[str]:
    return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}


def _is_tainted(expr: ast.AST, tainted: set[str], sanitisers: frozenset[str]) -> bool:
    if isinstance(expr, ast.Call):
        name = _dotted_name(expr.func)
        if name is not None and name.rsplit(".", 1)[-1] in sanitisers:
            return False
        if isinstance(expr.func, ast.Name) and expr.func.id not in PASS_THROUGH_CALLS:
            # A function's result is not its argument (it may well validate it): only a
            # method of tainted data (``request.get``) or a library helper passes taint on.
            return False
    if isinstance(expr, ast.FormattedValue) and _is_numeric_format(expr.format_spec):
        return False  # ``{total:.2f}`` prints a number: no markup can come through
    if isinstance(expr, ast.Name):
        return expr.id in tainted
    return any(_is_tainted(child, tainted, sanitisers) for child in ast.iter_child_nodes(expr))


def _is_numeric_format(spec: Optional[ast.expr]) -> bool:
    text = "".join(part.value for part in getattr(spec, "values", []) if isinstance(part, ast.Constant))
    return bool(text) and text[-1] in NUMERIC_FORMAT_TYPES


def _where_built(function: ast.FunctionDef | ast.AsyncFunctionDef, path: ast.expr, opened_at: int,
                 tainted: set[str]) -> int:
    """The line that built an opened path from input: its last tainted assignment, else the open."""
    if isinstance(path, ast.Name):
        built = [node.lineno for node in ast.walk(function)
                 if isinstance(node, ast.Assign) and node.lineno < opened_at
                 and path.id in _assigned_names(node.targets) and _is_tainted(node.value, tainted, PATH_SANITISERS)]
        if built:
            return max(built)
    return opened_at


def _is_html_building(node: ast.AST) -> bool:
    """An f-string, ``+`` or ``%`` expression with a literal part that holds an HTML tag."""
    if isinstance(node, ast.JoinedStr):
        parts = node.values
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        parts = [node.left, node.right]
    else:
        return False
    return any(
        isinstance(part, ast.Constant) and isinstance(part.value, str) and _has_tag(part.value)
        for candidate in parts for part in ast.walk(candidate)
    )


def _has_tag(text: str) -> bool:
    start = text.find(HTML_TAG)
    return start != -1 and start + 1 < len(text) and (text[start + 1].isalpha() or text[start + 1] in "/!")


def _dotted_name(node: ast.AST) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None
