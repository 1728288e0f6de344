"""Every planted issue carries a label a security engineer would sign.

A sample of the catalogue's planted sites (a few per operator, at least one per base module,
drawn the same way on every run) is proved again by the check that justifies its label and
category: ``compile()`` for syntax, the module's tests (and none of its exploits) for logic, Bandit
and/or the module's exploit for a vulnerability. The catalogue is keyed to ``module.py`` only, so
this also catches a test or exploit file edited since the catalogue was written. Fast structural
tests pin the rules that keep a label honest: no SQL injection without its exploit, no logic bug on
a security check, a syntax error credited on the line ``compile()`` names.
"""

from __future__ import annotations

import ast
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.corpus.verify import (
    VerificationReport, accepted_lines, check_changes, enclosing_function, exploit_name, module_exploits,
    syntax_error_line,
)
from app.env import IssueType, load_registry
from app.env.corpus.modules import BaseModule, Site
from app.env.corpus.operators import OPERATORS, OPERATORS_BY_NAME

REGISTRY = load_registry()
GENERATOR = REGISTRY.generator
MODULES = {module.name: module for module in GENERATOR.modules}
CORPUS_SPLITS = sorted({module.split for module in MODULES.values()})
PER_OPERATOR = 3


def verified_sites(module: BaseModule) -> list[Site]:
    """The module's planted-able sites, as the catalogue lists them."""
    return GENERATOR.catalogue.verified(module)


def _rank(module: BaseModule, site: Site) -> str:
    # A stable pseudo-random order: the sample does not favour the first modules or lines.
    return hashlib.sha256(f"{module.name}|{site.key}".encode()).hexdigest()


def audit_sample() -> dict[str, list[Site]]:
    """Up to ``PER_OPERATOR`` sites per operator, from distinct modules where possible, plus one
    site of each module the operators' picks missed (a logic or security site when it has one)."""
    by_operator: dict[str, list[tuple[str, BaseModule, Site]]] = {}
    for module in MODULES.values():
        for site in verified_sites(module):
            by_operator.setdefault(site.operator, []).append((_rank(module, site), module, site))
    sample: dict[str, list[Site]] = {}
    for operator in OPERATORS:
        ranked = sorted(by_operator.get(operator.name, []), key=lambda item: item[0])
        picked: list[tuple[BaseModule, Site]] = []
        for _, module, site in ranked:
            if len(picked) < PER_OPERATOR and module.name not in {m.name for m, _ in picked}:
                picked.append((module, site))
        for module, site in picked:
            sample.setdefault(module.name, []).append(site)
    for module in MODULES.values():
        if module.name not in sample and verified_sites(module):
            def weight(site: Site) -> tuple[bool, str]:
                syntax = OPERATORS_BY_NAME[site.operator].issue_type is IssueType.SYNTAX_ERROR
                return syntax, _rank(module, site)

            sample[module.name] = [min(verified_sites(module), key=weight)]
    return sample


SAMPLE = audit_sample()


def test_the_sample_covers_every_operator_and_every_module() -> None:
    sampled = {site.operator for sites in SAMPLE.values() for site in sites}
    assert sampled == {operator.name for operator in OPERATORS}
    assert set(SAMPLE) == {name for name, module in MODULES.items() if verified_sites(module)}
    assert len(SAMPLE) >= 30


def _reprove(name: str) -> tuple[str, dict[str, bool], list[str]]:
    module = MODULES[name]
    changes = [(site.key, site.operator, site.line, module.rewrite(site)) for site in SAMPLE[name]]
    report = VerificationReport()
    verdicts = check_changes(module.folder, module.lines, changes, report)
    return name, verdicts, report.failures


def test_sampled_planted_sites_are_proved_again_by_the_check_behind_their_label() -> None:
    # Each module's check runs in subprocesses: two at a time keep both cores busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_reprove, sorted(SAMPLE)))
    unproved = [f"{name}: {key}" for name, verdicts, _ in results for key, ok in verdicts.items() if not ok]
    failures = [failure for _, _, found in results for failure in found]
    assert not unproved, unproved
    assert not failures, failures


def benign_sample() -> dict[str, list[Site]]:
    """Up to ``PER_OPERATOR`` proved benign rewrites of each kind, from distinct modules."""
    ranked = sorted(((_rank(module, site), module, site) for module in MODULES.values()
                     for site in GENERATOR.catalogue.benign(module)), key=lambda item: item[0])
    sample: dict[str, list[Site]] = {}
    taken: dict[str, set[str]] = {}
    for _, module, site in ranked:
        modules = taken.setdefault(site.operator, set())
        if len(modules) < PER_OPERATOR and module.name not in modules:
            modules.add(module.name)
            sample.setdefault(module.name, []).append(site)
    return sample


def test_sampled_benign_rewrites_are_proved_behaviour_preserving_again() -> None:
    from app.corpus.verify import check_benign
    from app.env.corpus.operators_benign import BENIGN_REWRITES

    sample = benign_sample()
    kinds = {site.operator for sites in sample.values() for site in sites}
    # Every kind the shipped modules offer is sampled (some, like chained comparisons, fit no
    # shipped module: they are there for modules written in another style).
    offered = {site.operator for module in MODULES.values() for site in GENERATOR.catalogue.benign(module)}
    assert kinds == offered and len(kinds) >= 8 and offered <= {rewrite.name for rewrite in BENIGN_REWRITES}

    def reprove(name: str) -> dict[str, bool]:
        module = MODULES[name]
        changes = [(site.key, site.operator, site.line, *module.benign_rewrite(site)) for site in sample[name]]
        return check_benign(module.folder, module.lines, changes, VerificationReport())

    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = {key: ok for result in pool.map(reprove, sorted(sample)) for key, ok in result.items()}
    assert verdicts and all(verdicts.values()), [key for key, ok in verdicts.items() if not ok]


def test_every_planted_sql_injection_is_proved_by_an_exploit_of_its_function() -> None:
    planted = 0
    for module in MODULES.values():
        exploits = module_exploits(module.folder)
        for site in verified_sites(module):
            if site.operator == "sql_injection":
                planted += 1
                function = enclosing_function(module.source, site.line)
                assert function is not None and exploit_name("sql_injection", function) in exploits, (
                    module.name, site.key)
    assert planted >= 100


def test_every_sql_injection_exploit_attacks_a_function_of_its_module() -> None:
    for module in MODULES.values():
        functions = {node.name for node in ast.walk(module.tree) if isinstance(node, ast.FunctionDef)}
        for name in module_exploits(module.folder):
            if name.startswith("sqli_"):
                assert name.removeprefix("sqli_") in functions, (module.name, name)


_CONFINING_CALLS = frozenset({"commonpath", "realpath", "abspath", "normpath", "resolve", "is_relative_to",
                              "relative_to", "compare_digest"})
_AUTHORISING_NAMES = frozenset({"is_admin", "is_staff", "PermissionError"})


def security_check_lines(module: BaseModule) -> set[int]:
    """Lines that confine a path, compare a credential or authorise a caller, found in the syntax
    tree (independently of the operators' own test of a line)."""
    found: set[int] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            rooted = name == "startswith" and any(
                isinstance(inner, ast.Name) and inner.id in ("root", "base")
                or isinstance(inner, ast.Attribute) and inner.attr == "sep"
                for argument in node.args for inner in ast.walk(argument))
            if name in _CONFINING_CALLS or rooted:
                found.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, ast.Attribute) and node.attr in _AUTHORISING_NAMES or (
                isinstance(node, ast.Name) and node.id in _AUTHORISING_NAMES):
            found.add(node.lineno)
    return found


def test_no_logic_bug_is_planted_on_a_path_confinement_or_another_security_check() -> None:
    confining = 0
    for module in MODULES.values():
        checks = security_check_lines(module)
        confining += sum(1 for line in checks if "commonpath(" in module.lines[line - 1])
        for site in verified_sites(module):
            if OPERATORS_BY_NAME[site.operator].issue_type is IssueType.LOGIC_BUG:
                assert site.line not in checks, (module.name, site.key, module.lines[site.line - 1].strip())
    assert confining >= 10


@pytest.mark.parametrize("name", ["document_store", "config_loader"])
def test_a_reverted_path_confinement_is_no_logic_bug_even_past_the_operators(name: str) -> None:
    """Verification itself refuses the label: the module's exploit proves the reverted check."""
    module = MODULES[name]
    line = next(number for number, text in enumerate(module.lines, start=1) if "commonpath(" in text)
    text = module.lines[line - 1]
    changes = [("flipped", "flip_comparison", line, text.replace("!=", "==")),
               ("inverted", "inverted_condition", line, text.replace("if ", "if not (", 1).replace(":", "):"))]
    assert check_changes(module.folder, module.lines, changes, VerificationReport()) == {
        "flipped": False, "inverted": False}
    # The module's confinement is planted as what it is: path traversal, proved by the same exploits.
    assert any(site.operator == "path_traversal" for site in verified_sites(module))


def test_planted_syntax_errors_are_credited_on_the_line_compile_names() -> None:
    checked = 0
    for module in MODULES.values():
        for site in verified_sites(module):
            operator = OPERATORS_BY_NAME[site.operator]
            if operator.issue_type is not IssueType.SYNTAX_ERROR or not operator.compile_names_site:
                continue
            lines = list(module.lines)
            lines[site.line - 1] = module.rewrite(site)
            reported = syntax_error_line("\n".join(lines) + "\n")
            assert reported in accepted_lines(site.operator, site.line, len(lines)), (module.name, site.key, reported)
            checked += site.operator == "bad_indent"
    assert checked >= 500


@pytest.mark.parametrize("split", CORPUS_SPLITS)
def test_generated_bad_indent_issues_accept_the_line_compile_names(split: str) -> None:
    seen = 0
    for seed in range(40):
        episode = REGISTRY.episode("syntax_check", seed=seed, split=split)
        lines = episode.snippet.code.rstrip("\n").split("\n")
        clean = list(lines)
        for issue in episode.issues:
            clean[issue.line_number - 1] = issue.fix
        for issue in episode.issues:
            if not OPERATORS_BY_NAME[issue.kind or ""].compile_names_site:
                continue
            alone = list(clean)
            alone[issue.line_number - 1] = lines[issue.line_number - 1]
            reported = syntax_error_line("\n".join(alone) + "\n")
            assert reported in issue.accepted_lines, (split, seed, issue.kind, issue.line_number, reported)
            seen += issue.kind == "bad_indent"
    assert seen >= 5, split


_SAFE_CALLS = frozenset({"escape", "int", "float", "len", "round", "quote"})
_TAG = re.compile(r"<[A-Za-z/]")
_NUMERIC_SPEC = re.compile(r"^[<>^=+ 0-9,._-]*[dfegx%]$")


def _numeric_spec(node: ast.FormattedValue) -> bool:
    spec = node.format_spec
    return isinstance(spec, ast.JoinedStr) and len(spec.values) == 1 and isinstance(spec.values[0], ast.Constant) \
        and bool(_NUMERIC_SPEC.match(str(spec.values[0].value)))


def html_safe(node: ast.AST, scope: ast.AST, module: BaseModule, depth: int = 0) -> bool:
    """Whether ``node``, put into markup, can hold no markup of a client: an escaped value, a
    number, a constant, or a fragment built from those (followed through the function's
    assignments and the module's own helpers)."""
    if depth > 6:
        return False
    deeper = depth + 1
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(_numeric_spec(value) or html_safe(value.value, scope, module, deeper)
                   for value in node.values if isinstance(value, ast.FormattedValue))
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
            return False  # "%s" formatting, not arithmetic
        if isinstance(node.op, ast.Add):
            return html_safe(node.left, scope, module, deeper) and html_safe(node.right, scope, module, deeper)
        return True  # arithmetic: a number
    if isinstance(node, ast.IfExp):
        return html_safe(node.body, scope, module, deeper) and html_safe(node.orelse, scope, module, deeper)
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        return html_safe(node.elt, scope, module, deeper)
    if isinstance(node, ast.Subscript):
        return isinstance(node.value, ast.Name) and node.value.id.isupper()  # a constant table
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if name in _SAFE_CALLS:
            return True
        if name == "join" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Constant):
            return all(html_safe(argument, scope, module, deeper) for argument in node.args)
        helpers = [f for f in module.tree.body if isinstance(f, ast.FunctionDef) and f.name == name]
        returns = [r.value for f in helpers for r in ast.walk(f) if isinstance(r, ast.Return) and r.value]
        return bool(returns) and all(html_safe(value, helpers[0], module, deeper) for value in returns)
    if isinstance(node, ast.Name):
        if node.id.isupper():
            return True
        values = [a.value for a in ast.walk(scope) if isinstance(a, (ast.Assign, ast.AugAssign)) and any(
            isinstance(target, ast.Name) and target.id == node.id
            for target in (a.targets if isinstance(a, ast.Assign) else [a.target]))]
        # A loop variable or a parameter is data from the caller: never safe by itself.
        return bool(values) and all(html_safe(value, scope, module, deeper) for value in values)
    return False


def test_every_value_put_in_html_is_escaped_or_a_number() -> None:
    """No base module holds an unescaped HTML sink, so no safe sink served as a decoy hides one."""
    checked = 0
    for module in MODULES.values():
        for function in (node for node in ast.walk(module.tree) if isinstance(node, ast.FunctionDef)):
            specs = {id(node.format_spec) for node in ast.walk(function) if isinstance(node, ast.FormattedValue)}
            for node in ast.walk(function):
                markup = isinstance(node, ast.JoinedStr) and id(node) not in specs and any(
                    isinstance(part, ast.Constant) and _TAG.search(str(part.value)) for part in node.values)
                if markup:
                    checked += 1
                    assert html_safe(node, function, module), (module.name, node.lineno, module.lines[node.lineno - 1].strip())
    assert checked >= 30


def test_the_html_check_sees_an_unescaped_value() -> None:
    tree = ast.parse("def page(rows):\n    for name, digest in rows:\n        x = f'<li>{digest[:12]}</li>'\n")
    function = tree.body[0]
    fragment = function.body[0].body[0].value  # type: ignore[attr-defined]
    module = MODULES["document_store"]
    assert not html_safe(fragment, function, module)
    assert html_safe(ast.parse("f'<b>{html.escape(x)} {n // 2} {v:.2f}</b>'").body[0].value, function, module)  # type: ignore[attr-defined]
