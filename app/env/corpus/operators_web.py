"""Security operators for what crosses a boundary, found only by reading: a fetch without the
module's allow-list (SSRF), a weakened path confinement or redirect host check, a regular
expression built from input, a log line that takes input unescaped.

Each is proved by the module's exploit (``Operator.exploit_prefix``), never by a static rule:
the rewritten lines call nothing a scanner knows to be dangerous.

A file checked then used (TOCTOU, CWE-367) is not among them: ``os.open(path, O_CREAT | O_EXCL)``
becomes a check-then-open only over two lines (``if not os.path.exists(path):`` then the open),
and every one-line spelling (``open(path, "x")``, ``os.O_CREAT`` without ``O_EXCL``) is either
still atomic or a different bug.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from app.env.corpus.operators import HELD_OUT, SECURITY, Operator, Severity, Variant, _code_part, _op

# ---------------------------------------------------------------------- SSRF

# `if urlsplit(url).hostname not in ALLOWED_HOSTS:` (the body may follow on the same line).
_HOST_ALLOW_LIST = re.compile(r"^(\s*if )urlsplit\((\w+)\)\.hostname not in ([A-Z_]+)(:.*)$")


def _ssrf(spelling: str) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        match = _HOST_ALLOW_LIST.match(_code_part(line))
        if match is None:
            return None
        head, url, _, tail = match.groups()
        if spelling == "scheme_prefix":
            return f'{head}not {url}.startswith("http"){tail}'
        return f'{head}urlsplit({url}).scheme not in ("http", "https"){tail}'

    return rewrite


# ---------------------------------------------------------------------- path confinement

# `if not os.path.realpath(candidate).startswith(ROOT + os.sep):`
_RESOLVED_PREFIX = re.compile(r"\bos\.path\.realpath\((\w+)\)\.startswith\(([A-Za-z_]\w*) \+ os\.sep\)")
# `if os.path.commonpath([ROOT, path]) != ROOT:`
_COMMONPATH = re.compile(r"\bos\.path\.commonpath\(\[([A-Za-z_]\w*), (\w+)\]\) != \1\b")


def _unresolved_prefix(line: str) -> Optional[str]:
    code = _code_part(line)
    if len(_RESOLVED_PREFIX.findall(code)) != 1:
        return None
    return _RESOLVED_PREFIX.sub(r"\1.startswith(\2)", code)


def _no_separator(line: str) -> Optional[str]:
    code = _code_part(line)
    if len(_RESOLVED_PREFIX.findall(code)) != 1:
        return None
    return _RESOLVED_PREFIX.sub(r"os.path.realpath(\1).startswith(\2)", code)


def _commonpath_to_prefix(line: str) -> Optional[str]:
    code = _code_part(line)
    match = _COMMONPATH.search(code)
    if match is None or not re.match(r"^\s*if .+:", code):
        return None
    root, path = match.groups()
    return code[: match.start()] + f"not {path}.startswith({root})" + code[match.end():]


# ---------------------------------------------------------------------- regular expression from input

_ESCAPE = re.compile(r"\bre\.escape\(([\w.]+(?:\(\))?)\)")
_REGEX_CALL = re.compile(r"\bre\.(?:compile|search|match|fullmatch|findall|finditer|sub|split)\(")


def _regex_from_input(spelling: str) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        if not _REGEX_CALL.search(code) or len(_ESCAPE.findall(code)) != 1:
            return None
        if spelling == "unescaped":
            return _ESCAPE.sub(r"\1", code)
        # A half-escape: only the dot, the metacharacter people think of.
        return _ESCAPE.sub(lambda m: m.group(1) + '.replace(".", r"\\.")', code)

    return rewrite


# ---------------------------------------------------------------------- log injection

# A logger call whose format string holds ``%r`` (``log.info``, ``audit.warning``, ``self.logger.error``).
_LOG_CALL = re.compile(r"^\s*\w+(?:\.\w+)*\.(?:debug|info|warning|error|critical|exception)\(\"[^\"]*%r")


def _log_repr_to_str(line: str) -> Optional[str]:
    code = _code_part(line)
    if not _LOG_CALL.match(code):
        return None
    head, _, rest = code.partition("(")
    fmt_end = rest.index('"', 1)
    return f"{head}({rest[:fmt_end].replace('%r', '%s')}{rest[fmt_end:]}"


def _log_repr_to_fstring(line: str) -> Optional[str]:
    """``log.info("x %r", value)`` -> ``log.info(f"x {value}")`` (one argument per ``%r``)."""
    code = _code_part(line)
    match = re.match(r'^(\s*\w+(?:\.\w+)*\.\w+\()"([^"{}]*)", ([\w.]+(?:, [\w.]+)*)\)$', code)
    if match is None or not _LOG_CALL.match(code):
        return None
    head, fmt, args = match.groups()
    values = args.split(", ")
    if fmt.count("%") != len(values) or fmt.count("%r") + fmt.count("%s") != len(values):
        return None
    body = re.sub(r"%[rs]", lambda _m: "{" + values.pop(0) + "}", fmt)
    return f'{head}f"{body}")'


# ---------------------------------------------------------------------- redirect host check

# `if urlsplit(target).netloc not in ("", OWN_HOST):`
_NETLOC_CHECK = re.compile(r'^(\s*if )urlsplit\((\w+)\)\.netloc not in \("", ([A-Z_]+)\)(:.*)$')


def _host_check(spelling: str) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        match = _NETLOC_CHECK.match(_code_part(line))
        if match is None:
            return None
        head, target, host, tail = match.groups()
        if spelling == "slash_prefix":
            return f'{head}not {target}.startswith("/"){tail}'
        return f"{head}{host} not in {target}{tail}"

    return rewrite


WEB_OPERATORS: tuple[Operator, ...] = (
    _op("ssrf_allow_list", SECURITY, Severity.HIGH,
        "Server-side request forgery: a caller's URL is fetched without the host allow-list "
        "(internal addresses such as 169.254.169.254 or localhost are reachable).",
        Variant("scheme_prefix", _ssrf("scheme_prefix")),
        Variant("scheme_only", _ssrf("scheme_only"), splits=HELD_OUT),
        cwe="CWE-918", exploit_prefix="ssrf_"),
    _op("path_confinement_weakened", SECURITY, Severity.HIGH,
        "Path confinement by a prefix test that `../` or a sibling directory (`root-evil`) passes.",
        Variant("unresolved_prefix", _unresolved_prefix),
        Variant("commonpath_prefix", _commonpath_to_prefix),
        Variant("no_separator", _no_separator, splits=HELD_OUT),
        cwe="CWE-22", exploit_prefix="confine_"),
    _op("regex_from_input", SECURITY, Severity.MEDIUM,
        "Regular expression built from input without `re.escape`: the caller controls the pattern "
        "(wrong matches, catastrophic backtracking).",
        Variant("unescaped", _regex_from_input("unescaped")),
        Variant("dots_only", _regex_from_input("dots_only"), splits=HELD_OUT),
        cwe="CWE-1333", exploit_prefix="redos_"),
    _op("log_injection", SECURITY, Severity.MEDIUM,
        "Input written to the log unescaped: a newline in it forges a log line.",
        Variant("percent_s", _log_repr_to_str),
        Variant("fstring", _log_repr_to_fstring, splits=HELD_OUT),
        cwe="CWE-117", exploit_prefix="loginj_"),
    _op("redirect_host_check_weakened", SECURITY, Severity.MEDIUM,
        "Redirect target checked by a test that lets another host through (`//evil.example`).",
        Variant("slash_prefix", _host_check("slash_prefix")),
        Variant("substring", _host_check("substring"), splits=HELD_OUT),
        cwe="CWE-601", exploit_prefix="hostcheck_"),
)
