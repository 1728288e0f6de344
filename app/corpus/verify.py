"""Prove planted issues with checks independent of the generator.

* syntax: the clean code compiles, the one changed line makes ``compile()`` fail, and the line
  ``compile()`` names is one of the issue's accepted lines (what a reviewer is credited for; an
  unterminated docstring is the exception: its error surfaces wherever a later quote closes it);
* logic: the clean module passes its own tests and the changed module fails at least one (run
  in a subprocess with a time limit, never in the server), and none of the module's exploits
  works against the changed module: a change that opens a hole an exploit proves is a
  vulnerability, not a logic bug;
* security: a Bandit rule of the operator's kind fires on the changed line and not on the clean
  one, and/or the module's shipped exploit succeeds against the changed module and fails against
  the clean one. What Bandit cannot see (XSS, path traversal, open redirect, XML external
  entities) is proved by the exploit alone; SQL injection needs both, since B608 flags any query
  built from a string, exploitable or not (a SHA-256 digest spliced into a query is not).

``build_catalogue`` checks every candidate site of every base module (the result is
``tasks/corpus/verified.json``, which the generator reads); ``verify_episode`` re-checks the
planted issues of one generated episode on its final code (renamed, reordered).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from app.bandit_runner import run_bandit
from app.env.corpus.modules import BaseModule
from app.env.corpus.operators import OPERATORS, OPERATORS_BY_NAME, replace_window, window
from app.env.models import EpisodeSpec, IssueType

CATALOGUE_VERSION = 1
BANDIT_RULES: dict[str, frozenset[str]] = {
    "sql_injection": frozenset({"B608"}),
    "command_injection": frozenset({"B602", "B604", "B605"}),
    "eval_injection": frozenset({"B307"}),
    "unsafe_deserialisation": frozenset({"B301", "B506"}),
    "weak_password_hash": frozenset({"B303", "B324"}),
    "insecure_token": frozenset({"B311"}),
    "hardcoded_secret": frozenset({"B105", "B106", "B107"}),
    "tls_verification_disabled": frozenset({"B501"}),
    "insecure_temp_file": frozenset({"B306"}),
    "assert_authorisation": frozenset({"B101"}),
    "debug_enabled": frozenset({"B201"}),
}
# Proved by an exploit. Bandit cannot see XSS, path traversal or open redirects at all; its XML
# rules (B313-B320, B405-B411) flag every use of the standard parsers with CWE-20, safe or not;
# and its B608 fires on any string-built query, also where the spliced value is not the
# attacker's (a digest, an id read back from the database), so SQL injection needs both.
# Operators with an ``exploit_prefix`` (the vulnerabilities found by reading) are proved the same way.
EXPLOITED = frozenset({"reflected_xss", "path_traversal", "open_redirect", "xml_external_entities", "sql_injection",
                       *(operator.name for operator in OPERATORS if operator.exploit_prefix)})
# An SQL injection exploit has a name of its own: the same function may also hold an XSS sink,
# whose ``exploit_<function>`` would prove the wrong category. So has every reading operator's.
EXPLOIT_PREFIXES: dict[str, str] = {"sql_injection": "sqli_", **{
    operator.name: operator.exploit_prefix for operator in OPERATORS if operator.exploit_prefix}}
DEFAULT_EXPLOIT_PREFIX = "exploit_"


@dataclass
class OperatorTally:
    """Counts of one operator: candidates generated, verified, discarded, and time spent."""

    generated: int = 0
    verified: int = 0
    discarded: int = 0
    seconds: float = 0.0


@dataclass
class VerificationReport:
    """What a verification run found."""

    tallies: dict[str, OperatorTally] = field(default_factory=lambda: defaultdict(OperatorTally))
    failures: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per operator, for printing."""
        return [
            {"operator": name, "generated": t.generated, "verified": t.verified, "discarded": t.discarded,
             "pass_rate": round(t.verified / t.generated, 3) if t.generated else None,
             "seconds": round(t.seconds, 2)}
            for name, t in sorted(self.tallies.items())
        ]


def bandit_findings(source: str) -> set[tuple[int, str]]:
    """(line, test id) of every Bandit finding in ``source``."""
    return {(issue.lineno, issue.test_id) for issue in run_bandit(source)}


def enclosing_function(source: str, line: int) -> Optional[str]:
    """Name of the innermost function containing ``line``."""
    best: Optional[ast.AST] = None
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= (node.end_lineno or 0):
            if best is None or node.lineno >= best.lineno:  # type: ignore[attr-defined]
                best = node
    return best.name if best is not None else None  # type: ignore[attr-defined]


def exploit_name(operator_name: str, function: str) -> str:
    """Name of the ``exploits.py`` function that proves ``operator_name`` in ``function``."""
    return EXPLOIT_PREFIXES.get(operator_name, DEFAULT_EXPLOIT_PREFIX) + function


def module_exploits(folder: Path) -> tuple[str, ...]:
    """Names of the exploit functions a module's ``exploits.py`` defines (none without the file)."""
    path = folder / "exploits.py"
    if not path.is_file():
        return ()
    prefixes = (DEFAULT_EXPLOIT_PREFIX, *EXPLOIT_PREFIXES.values())
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return tuple(sorted(node.name for node in tree.body
                        if isinstance(node, ast.FunctionDef) and node.name.startswith(prefixes)))


def run_mutants(folder: Path, mutants: list[dict[str, Any]]) -> dict[str, bool]:
    """Run module tests or exploits on mutated sources in a subprocess (see ``runner``)."""
    if not mutants:
        return {}
    job = json.dumps({"module_dir": str(folder), "mutants": mutants})
    completed = subprocess.run(
        [sys.executable, "-m", "app.corpus.runner"], input=job, capture_output=True, text=True,
        timeout=60 + 15 * len(mutants), cwd=Path(__file__).resolve().parents[2],
    )
    if completed.returncode != 0:
        raise RuntimeError(f"verification runner failed for {folder.name}: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout)


def _replace_line(lines: list[str], line: int, text: str) -> str:
    return "\n".join(replace_window(lines, line, text)) + "\n"


def syntax_error_line(source: str) -> Optional[int]:
    """The line ``compile()`` reports for ``source`` (``None`` when it compiles).

    An error without a line number counts as line 0, which no issue accepts.
    """
    # A mutant may also draw a SyntaxWarning ("perhaps you missed a comma?"): not our verdict.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<mutant>", "exec")
        except SyntaxError as exc:  # IndentationError and TabError are SyntaxErrors too
            return exc.lineno or 0
    return None


def _compiles(source: str) -> bool:
    return syntax_error_line(source) is None


def accepted_lines(operator_name: str, line: int, line_count: int) -> tuple[int, ...]:
    """The lines a report of a site counts on: as the generator sets them (the lines the site
    covers and the operator's trailing lines, in the episode's own order)."""
    operator = OPERATORS_BY_NAME[operator_name]
    extra = operator.span - 1 + operator.trailing_accepted
    return (line, *(line + k for k in range(1, extra + 1) if line + k <= line_count))


def check_changes(
    folder: Path, clean_lines: list[str], changes: list[tuple[str, str, int, str]], report: VerificationReport,
) -> dict[str, bool]:
    """Verify independent changes of one clean module, one site each (a line, or the lines of a
    multi-line site joined by newlines).

    Args:
        folder: The base module folder (its tests and exploits are used).
        clean_lines: The clean code, line by line (possibly renamed and reordered).
        changes: ``(key, operator name, line, changed text)``.
        report: Tallies to update.

    Returns:
        key -> verified.
    """
    clean = "\n".join(clean_lines) + "\n"
    verdicts: dict[str, bool] = {}
    mutants: list[dict[str, Any]] = []
    clean_bandit: Optional[set[tuple[int, str]]] = None
    exploits = module_exploits(folder)
    # Exploits whose result on the clean code is needed (each runs on it once).
    controls_needed: set[str] = set()
    for key, operator_name, line, text in changes:
        began = time.perf_counter()
        operator = OPERATORS_BY_NAME[operator_name]
        source = _replace_line(clean_lines, line, text)
        tally = report.tallies[operator_name]
        tally.generated += 1
        if operator.issue_type is IssueType.SYNTAX_ERROR:
            reported = syntax_error_line(source)
            named = reported in accepted_lines(operator_name, line, len(clean_lines))
            verdicts[key] = _compiles(clean) and reported is not None and (named or not operator.compile_names_site)
        elif not _compiles(source):
            verdicts[key] = False
        elif operator.issue_type is IssueType.LOGIC_BUG:
            mutants.append({"key": key, "source": source})
            # Every exploit of the module must still fail: a logic change that lets one through
            # (a reverted path confinement, say) is a vulnerability, labelled as a logic bug.
            mutants.extend({"key": f"{key}#{name}", "source": source, "exploit": name} for name in exploits)
            controls_needed.update(exploits)
        else:
            if operator_name in BANDIT_RULES:
                if clean_bandit is None:
                    clean_bandit = bandit_findings(clean)
                rules = BANDIT_RULES[operator_name]
                fires = {rule for (found_line, rule) in bandit_findings(source) if found_line == line}
                verdicts[key] = bool(fires & rules) and not any((line, rule) in clean_bandit for rule in rules)
            if operator_name in EXPLOITED and verdicts.get(key, True):
                function = enclosing_function(clean, line)
                name = exploit_name(operator_name, function) if function is not None else None
                if name is None or name not in exploits:
                    verdicts[key] = False
                else:
                    verdicts.pop(key, None)
                    mutants.append({"key": key, "source": source, "exploit": name, "proof": name})
                    controls_needed.add(name)
            elif key not in verdicts:
                verdicts[key] = False
        tally.seconds += time.perf_counter() - began
    if mutants:
        began = time.perf_counter()
        needs_tests = any("exploit" not in m for m in mutants)
        # The clean code runs first and again last: a runner whose later runs could not pass
        # would make every mutant look "killed".
        controls = [{"key": "#clean", "source": clean}] if needs_tests else []
        controls += [{"key": f"#clean:{name}", "source": clean, "exploit": name} for name in sorted(controls_needed)]
        tail = [{"key": "#control", "source": clean}] if needs_tests else []
        results = run_mutants(folder, controls + mutants + tail)
        if needs_tests and results["#clean"] != results["#control"]:
            raise RuntimeError(f"{folder.name}: the clean module's tests gave different results before and after")
        clean_passes = results.get("#clean", True)
        if needs_tests and not clean_passes:
            report.failures.append(f"{folder.name}: the clean module fails its own tests")
        for name in sorted(controls_needed):
            if results[f"#clean:{name}"]:
                report.failures.append(f"{folder.name}: {name} succeeds against the clean module")
        for mutant in mutants:
            key = mutant["key"]
            if "proof" in mutant:
                verdicts[key] = results[key] and not results[f"#clean:{mutant['proof']}"]
            elif "exploit" not in mutant:
                opened = [name for name in exploits
                          if results[f"{key}#{name}"] and not results[f"#clean:{name}"]]
                verdicts[key] = clean_passes and not results[key] and not opened
        elapsed = time.perf_counter() - began
        planted_keys = {m["key"] for m in mutants if "proof" in m or "exploit" not in m}
        share = elapsed / max(1, len(planted_keys))
        for key, operator_name, _, _ in changes:
            if key in planted_keys:
                report.tallies[operator_name].seconds += share
    for key, operator_name, _, _ in changes:
        if verdicts.get(key):
            report.tallies[operator_name].verified += 1
        else:
            report.tallies[operator_name].discarded += 1
    return verdicts


def check_benign(folder: Path, clean_lines: list[str], changes: list[tuple[str, str, int, str, str]],
                 report: VerificationReport) -> dict[str, bool]:
    """Prove rewrites benign: the module still compiles, its tests still pass and none of its
    exploits succeeds on the rewritten module.

    Args:
        folder: The base module folder (its tests and exploits are used).
        clean_lines: The code the rewrites apply to, line by line.
        changes: ``(key, rewrite name, line, old window, new window)``; windows are lines joined
            by newlines and may differ in length.
        report: Tallies to update.

    Returns:
        key -> benign.
    """
    exploits = module_exploits(folder)
    verdicts: dict[str, bool] = {}
    mutants: list[dict[str, Any]] = []
    began = time.perf_counter()
    for key, name, line, old, new in changes:
        report.tallies[name].generated += 1
        source = "\n".join(replace_window(clean_lines, line, new, len(old.split("\n")))) + "\n"
        if not _compiles(source):
            verdicts[key] = False
            continue
        mutants.append({"key": key, "source": source})
        mutants.extend({"key": f"{key}#{exploit}", "source": source, "exploit": exploit} for exploit in exploits)
    results = run_mutants(folder, mutants)
    for key, name, *_ in changes:
        if key not in verdicts:
            verdicts[key] = results[key] and not any(results[f"{key}#{exploit}"] for exploit in exploits)
        tally = report.tallies[name]
        tally.seconds += (time.perf_counter() - began) / max(1, len(changes))
        if verdicts[key]:
            tally.verified += 1
        else:
            tally.discarded += 1
    return verdicts


def verify_module(module: BaseModule, report: VerificationReport) -> dict[str, Any]:
    """Check every candidate site of a base module; return its catalogue entry."""
    sites = module.candidate_sites()
    changes = [(site.key, site.operator, site.line, module.rewrite(site)) for site in sites]
    verdicts = check_changes(module.folder, module.lines, changes, report)
    # A decoy must not be confirmed as a vulnerability: drop any a confirming Bandit rule flags
    # (e.g. random.sample for a non-security use, which B311 reports).
    confirming = frozenset().union(*BANDIT_RULES.values())
    clean_findings = {line for line, rule in bandit_findings(module.source) if rule in confirming}
    decoys_ok, decoys_rejected = [], []
    for decoy in module.decoys:
        try:
            line = module.line_of(decoy.text)
        except ValueError as exc:
            report.failures.append(str(exc))
            continue
        (decoys_rejected if line in clean_findings else decoys_ok).append(decoy.text)
    benign_sites = module.benign_sites()
    benign = check_benign(module.folder, module.lines,
                          [(site.key, site.operator, site.line, *module.benign_rewrite(site)) for site in benign_sites],
                          report)
    return {
        "digest": module.digest,
        "split": module.split,
        "verified": sorted(key for key, ok in verdicts.items() if ok),
        "discarded": sorted(key for key, ok in verdicts.items() if not ok),
        "benign": sorted(key for key, ok in benign.items() if ok),
        "benign_discarded": sorted(key for key, ok in benign.items() if not ok),
        "decoys": sorted(decoys_ok),
        "decoys_rejected": sorted(decoys_rejected),
    }


def _verify_in_worker(module: BaseModule) -> tuple[dict[str, Any], VerificationReport]:
    report = VerificationReport()
    entry = verify_module(module, report)
    report.tallies = dict(report.tallies)  # plain dict: picklable back to the parent
    return entry, report


def build_catalogue(
    modules: Iterable[BaseModule], report: VerificationReport, previous: Optional[dict[str, Any]] = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Verify every module whose code changed since ``previous`` (all when ``None``) and return
    the catalogue document. Modules are verified in ``workers`` processes."""
    from concurrent.futures import ProcessPoolExecutor

    same_operators = (previous or {}).get("operators") == operators_fingerprint()
    kept = (previous or {}).get("modules", {}) if same_operators else {}
    entries: dict[str, Any] = {}
    todo = []
    for module in modules:
        if module.name in kept and kept[module.name].get("digest") == module.digest:
            # Sites are proved on the code alone; a module moved to another split keeps them.
            entries[module.name] = {**kept[module.name], "split": module.split}
        else:
            todo.append(module)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for module, (entry, partial) in zip(todo, pool.map(_verify_in_worker, todo)):
            entries[module.name] = entry
            report.failures.extend(partial.failures)
            for name, tally in partial.tallies.items():
                total = report.tallies[name]
                total.generated += tally.generated
                total.verified += tally.verified
                total.discarded += tally.discarded
                total.seconds += tally.seconds
    return {"version": CATALOGUE_VERSION, "operators": operators_fingerprint(),
            "modules": dict(sorted(entries.items()))}


def operators_fingerprint() -> str:
    """Digest of the operator definitions: a catalogue made with other operators is stale."""
    import hashlib

    from app.env.corpus import operators

    # Every module defining operators (operators.py, operators_access.py, ...), in name order.
    digest = hashlib.sha256()
    for path in sorted(Path(operators.__file__).parent.glob("operators*.py")):
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def verify_episode(episode: EpisodeSpec, module: BaseModule, report: VerificationReport) -> bool:
    """Re-check every planted issue of a generated episode on its final code.

    The clean version of the episode is its code (after the pull request, for a pull-request
    episode) with every planted line put back to its fix; each planted issue alone, applied to
    that clean version, must then be confirmed. A pull request's benign hunks are confirmed
    together: that clean version must pass the module's tests and resist its exploits.
    """
    lines = episode.reviewed_code.rstrip("\n").split("\n")
    clean_lines = list(lines)
    for issue in episode.issues:
        clean_lines = replace_window(clean_lines, issue.line_number, issue.fix)
    changes = [(issue.id, issue.kind or "", issue.line_number,
                window(lines, issue.line_number, len(issue.fix.split("\n"))) or "")
               for issue in episode.issues]
    verdicts = check_changes(module.folder, clean_lines, changes, report)
    if episode.diff is not None:
        # The pull request without its planted issues is its benign hunks alone: it must
        # behave as the code before it (tests pass, no exploit succeeds).
        before = episode.snippet.code.rstrip("\n")
        verdicts.update(check_benign(module.folder, before.split("\n"), [
            ("benign hunks", "benign_hunks", 1, before, "\n".join(clean_lines))], report))
    failed = [key for key, ok in verdicts.items() if not ok]
    for key in failed:
        report.failures.append(f"{episode.task_name} seed {episode.seed} ({episode.split}): {key} not confirmed")
    return not failed


def module_of(modules: Iterable[BaseModule], episode: EpisodeSpec) -> BaseModule:
    """The base module an episode was generated from (its ``origin``)."""
    for module in modules:
        if module.name == episode.origin:
            return module
    raise LookupError(f"no base module {episode.origin!r}")
