"""Pattern matchers: they report what looks dangerous without asking whether it is.

Three of them, from the crudest to a real tool used crudely: regular expressions for dangerous
APIs, every call of a security-relevant API, and every line Bandit flags (its import notes and
code-quality notes included). All report ``security_vulnerability`` only.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Optional

from app.agents.adversarial.base import PlannedPolicy, issue, one_per_line
from app.agents.base import EpisodeContext, reviewed_code
from app.bandit_runner import run_bandit
from app.env import CodeIssue, CodeReviewerObservation, IssueType, Severity

SECURITY = IssueType.SECURITY_VULNERABILITY

# Dangerous-API patterns, one line at a time, as a grep-based linter would write them.
DANGEROUS_PATTERNS: dict[str, re.Pattern[str]] = {name: re.compile(pattern) for name, pattern in {
    "sql_fstring": r"""\.execute(many)?\(\s*f["']""",
    "sql_built": r"""\.execute(many)?\(.*(["']\s*%|["']\s*\+|\+\s*["']|\.format\()""",
    "shell_true": r"shell\s*=\s*True",
    "os_system": r"\bos\.(system|popen)\(",
    "tls_off": r"verify\s*=\s*False",
    "eval_exec": r"(?<![\w.])(eval|exec)\(",
    "pickle": r"\b(c?pickle|marshal|shelve)\.(loads?|open)\(",
    "yaml_load": r"\byaml\.(load|unsafe_load|load_all)\(",
    "weak_hash": r"\b(md5|sha1)\b",
    "random_token": r"\brandom\.(random|randint|randrange|choice|choices|sample|getrandbits)\(",
    "mktemp": r"\bmktemp\(",
    "debug_on": r"debug\s*=\s*True",
    "assert_auth": r"^\s*assert\b.*(admin|auth|permission|role|owner|staff|superuser|allowed|privilege|access)",
    "secret_literal": r"""(?i)\b\w*(secret|passw(or)?d|api_?key|token|private_key)\w*\s*[:=]\s*(b|r)?["'][^"'\s]{4,}["']""",
    "redirect": r"\bredirect\(",
    "html_fstring": r"""\bf["'].*<[a-zA-Z/!][^"']*\{(?![^}]*escape)""",
    "xxe": r"feature_external_ges|external-general-entities|resolve_entities\s*=\s*True",
}.items()}

# Calls whose presence makes a line worth a look, whatever their arguments: by the module the
# call goes through, or by the called function's own name.
SINK_MODULES = frozenset({"subprocess", "requests", "hashlib", "random", "pickle", "cPickle", "marshal",
                          "shelve", "yaml", "xml", "lxml", "defusedxml", "urllib", "httpx", "tempfile"})
SINK_FUNCTIONS = frozenset({
    "execute", "executemany", "executescript", "system", "popen", "Popen", "open", "redirect",
    "eval", "exec", "compile", "render", "render_template", "render_template_string", "Markup",
    "make_parser", "parse", "parseString", "fromstring", "setFeature", "urlopen", "send_file",
    "html", "HTMLResponse",
})


def dangerous_pattern(line: str) -> Optional[str]:
    """The name of the first dangerous-API pattern ``line`` matches, else ``None``."""
    return next((name for name, pattern in DANGEROUS_PATTERNS.items() if pattern.search(line)), None)


class RegexPolicy(PlannedPolicy):
    """Reports every line matching one of :data:`DANGEROUS_PATTERNS` as a vulnerability."""

    name = "regex"
    categories = frozenset({SECURITY})

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """Matching lines, top to bottom."""
        return regex_findings(reviewed_code(observation)[0])


def regex_findings(code: str) -> list[CodeIssue]:
    """One ``security_vulnerability`` per line matching a dangerous-API pattern."""
    findings = []
    for number, text in enumerate(code.splitlines(), start=1):
        name = dangerous_pattern(text)
        if name is not None:
            findings.append(issue(number, SECURITY, f"dangerous API pattern: {name}"))
    return findings


class SecurityApiSinks(PlannedPolicy):
    """Reports every line that calls a security-relevant API at all (see :data:`SINK_MODULES`
    and :data:`SINK_FUNCTIONS`), safe calls included."""

    name = "security_api_sinks"
    categories = frozenset({SECURITY})

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """Lines of sink calls, top to bottom (nothing when the code does not parse)."""
        return sink_findings(reviewed_code(observation)[0])


def sink_findings(code: str) -> list[CodeIssue]:
    """One ``security_vulnerability`` per line where a sink call starts."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        dotted = _dotted_name(node.func)
        if dotted is None:
            continue
        head, _, _ = dotted.partition(".")
        last = dotted.rsplit(".", 1)[-1]
        if head in SINK_MODULES or last in SINK_FUNCTIONS:
            findings.append(issue(node.lineno, SECURITY, f"calls {dotted}"))
    return one_per_line(findings)


def _dotted_name(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for a name or attribute chain; the method name alone for a call on a value
    (``db.cursor().execute`` -> ``execute``)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return None


BANDIT_SEVERITY = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}


class BanditPolicy(PlannedPolicy):
    """Reports every line Bandit flags, with no filter: import notes (``B4xx``),
    ``try/except/pass`` and every ``assert`` and ``random`` call included."""

    name = "bandit"
    categories = frozenset({SECURITY})

    def plan(self, observation: CodeReviewerObservation, context: EpisodeContext) -> list[CodeIssue]:
        """Flagged lines, top to bottom."""
        return list(bandit_findings(reviewed_code(observation)[0]))


@functools.lru_cache(maxsize=256)
def bandit_findings(code: str) -> tuple[CodeIssue, ...]:
    """One ``security_vulnerability`` per line Bandit flags (cached: a panel replays codes)."""
    findings = [
        issue(result.lineno, SECURITY, f"Bandit {result.test_id} {result.test}",
              BANDIT_SEVERITY.get(result.severity, Severity.MEDIUM))
        for result in run_bandit(code)
    ]
    return tuple(one_per_line(findings))
