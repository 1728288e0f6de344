"""Security operators for access control and secrets that only reading finds: a lookup that
drops its owner filter, a handler that lost its role check, a secret compared with ``==``, a
signature or expiry not checked, a record updated from a request without its field allow-list.

Each is proved by the module's exploit (``Operator.exploit_prefix``), never by a static rule:
none of the rewritten lines uses an API a scanner knows to be dangerous.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from app.env.corpus.operators import (
    HELD_OUT,
    SECURITY,
    Operator,
    RewriteContext,
    Severity,
    Variant,
    _code_part,
    _op,
)

# ---------------------------------------------------------------------- object-level authorisation

# A bound query whose last condition is the owner's (or tenant's) id: `... WHERE id = ? AND owner_id = ?`.
_OWNED_QUERY = re.compile(
    r'^(\s*.*?\.execute\()"([^"]*?\bWHERE\b[^"]*?\?[^"]*?) AND (\w+_id) = \?([^"?]*)", '
    r"\(([\w.\[\]\"']+), ([\w.\[\]\"']+)\)\)(.*)$"
)
# An ownership check raising on a mismatch: `if doc["owner_id"] != user_id: raise PermissionError(...)`.
_OWNER_CHECK = re.compile(r'^(\s*if )(\w+(?:\.\w+|\["\w+_id"\]))( != [\w.]+)(: raise PermissionError\(.*\))$')


def _drop_owner_filter(line: str) -> Optional[str]:
    match = _OWNED_QUERY.match(_code_part(line))
    if match is None:
        return None
    head, before, _, after, value, _, rest = match.groups()
    return f'{head}"{before}{after}", ({value},)){rest}'


def _owner_filter_or(line: str) -> Optional[str]:
    match = _OWNED_QUERY.match(_code_part(line))
    if match is None:
        return None
    head, before, column, after, value, owner, rest = match.groups()
    return f'{head}"{before} OR {column} = ?{after}", ({value}, {owner})){rest}'


def _owner_presence_only(line: str) -> Optional[str]:
    match = _OWNER_CHECK.match(_code_part(line))
    if match is None or not re.search(r"owner|tenant|user|account|author|member|patient|employee", match.group(2)):
        return None
    head, owner, _, tail = match.groups()
    return f"{head}not {owner}{tail}"


# ---------------------------------------------------------------------- missing authorisation

_ROLE_CHECK = re.compile(r"^(\s*(?:if|elif) not )(\w+)\.(is_(?:admin|staff|manager|approver|superuser|supervisor))\b(.*)$")


def _role_check(spelling: str) -> Callable[[str], Optional[str]]:
    """Weaken `if not actor.is_admin` to a test every signed-in caller passes."""

    def rewrite(line: str) -> Optional[str]:
        match = _ROLE_CHECK.match(_code_part(line))
        if match is None:
            return None
        head, name, _, tail = match.groups()
        checked = name if spelling == "caller" else f"{name}.is_active"
        return f"{head}{checked}{tail}"

    return rewrite


# ---------------------------------------------------------------------- secrets compared with ==

_COMPARE_DIGEST = re.compile(r"(not )?\b(?:hmac|secrets)\.compare_digest\(([^(),]+(?:\([^()]*\))?), ([^(),]+(?:\([^()]*\))?)\)")


def _digest_equality(swapped: bool) -> Callable[[str], Optional[str]]:
    def rewrite(line: str) -> Optional[str]:
        code = _code_part(line)
        matches = list(_COMPARE_DIGEST.finditer(code))
        if len(matches) != 1:
            return None
        match = matches[0]
        negated, left, right = match.groups()
        if swapped:
            left, right = right, left
        comparison = f"{left} {'!=' if negated else '=='} {right}"
        return code[: match.start()] + comparison + code[match.end():]

    return rewrite


# ---------------------------------------------------------------------- signature not verified


def _signature_presence_only(line: str) -> Optional[str]:
    """`if not hmac.compare_digest(expected, given): raise` -> `if not given: raise` (the MAC is
    computed, then only the presence of a signature is checked)."""
    code = _code_part(line)
    match = re.match(r"^(\s*if )not (?:hmac|secrets)\.compare_digest\([^(),]+(?:\([^()]*\))?, (\w+)\)(:.*)$", code)
    return f"{match.group(1)}not {match.group(2)}{match.group(3)}" if match else None


def _signature_self_compare(line: str) -> Optional[str]:
    """The given signature compared with itself: a slip of one name that accepts any signature."""
    code = _code_part(line)
    match = re.search(r"\b((?:hmac|secrets)\.compare_digest\()([^(),]+(?:\([^()]*\))?), (\w+)\)", code)
    if match is None or "compare_digest(" in code[match.end():]:
        return None
    return code[: match.start()] + f"{match.group(1)}{match.group(3)}, {match.group(3)})" + code[match.end():]


# ---------------------------------------------------------------------- expiry not enforced

_ISSUE_KEYS = ("iat", "issued_at", "created_at")
_EXPIRY_CHECK = re.compile(r'^(\s*if )(\w+)(\["(?:exp|expires|expires_at)"\] <=? )(now)(:.*)$')
_AGE_CHECK = re.compile(r'^(\s*if )(now) - (\w+\["(?:iat|issued_at|created_at)"\])( >=? .+:.*)$')


def _expiry_against_issue(line: str, context: RewriteContext) -> Optional[str]:
    """The expiry compared with the token's own issue time (always earlier) instead of now."""
    match = _EXPIRY_CHECK.match(_code_part(line))
    issued = next((key for key in _ISSUE_KEYS if key in context.dict_keys), None)
    if match is None or issued is None:
        return None
    head, claims, compare, _, tail = match.groups()
    return f'{head}{claims}{compare}{claims}["{issued}"]{tail}'


def _age_reversed(line: str) -> Optional[str]:
    """`now - claims["iat"] > MAX_AGE` -> `claims["iat"] - now > MAX_AGE`: never positive."""
    match = _AGE_CHECK.match(_code_part(line))
    if match is None:
        return None
    head, now, issued, tail = match.groups()
    return f"{head}{issued} - {now}{tail}"


# ---------------------------------------------------------------------- mass assignment

_FILTERED_UPDATE = re.compile(r"^(\s*[\w.\[\]\"']+\.update\()\{(\w+): (\w+) for \2, \3 in (\w+)\.items\(\) if \2 in [A-Z_]+\}(\))$")
_FILTERED_LOOP = re.compile(r"^(\s*for (\w+) in )(?:[A-Z_]+ & (\w+)\.keys\(\)|(\w+)\.keys\(\) & [A-Z_]+)(:.*)$")


def _unfiltered_update(line: str) -> Optional[str]:
    match = _FILTERED_UPDATE.match(_code_part(line))
    return f"{match.group(1)}{match.group(4)}{match.group(5)}" if match else None


def _unfiltered_loop(line: str) -> Optional[str]:
    match = _FILTERED_LOOP.match(_code_part(line))
    if match is None:
        return None
    head, _, first, second, tail = match.groups()
    return f"{head}{first or second}{tail}"


ACCESS_OPERATORS: tuple[Operator, ...] = (
    _op("broken_object_authorisation", SECURITY, Severity.HIGH,
        "Object looked up without its owner or tenant filter: any caller can read or change another's record.",
        Variant("drop_owner_filter", _drop_owner_filter), Variant("owner_presence", _owner_presence_only),
        Variant("owner_or", _owner_filter_or, splits=HELD_OUT),
        cwe="CWE-639", exploit_prefix="bola_"),
    _op("missing_authorisation", SECURITY, Severity.HIGH,
        "Role check weakened to one every signed-in caller passes: the handler is open to non-privileged users.",
        Variant("caller_only", _role_check("caller")), Variant("wrong_flag", _role_check("active"), splits=HELD_OUT),
        cwe="CWE-862", exploit_prefix="authz_"),
    _op("timing_unsafe_comparison", SECURITY, Severity.MEDIUM,
        "Secret or signature compared with `==`, which stops at the first differing character (timing side channel).",
        Variant("equals", _digest_equality(swapped=False)),
        Variant("equals_swapped", _digest_equality(swapped=True), splits=HELD_OUT),
        cwe="CWE-208", exploit_prefix="timing_"),
    _op("unverified_signature", SECURITY, Severity.CRITICAL,
        "Signature computed but not checked against the one presented: forged messages are accepted.",
        Variant("presence_only", _signature_presence_only),
        Variant("self_compare", _signature_self_compare, splits=HELD_OUT),
        cwe="CWE-347", exploit_prefix="sig_"),
    _op("expiry_not_enforced", SECURITY, Severity.HIGH,
        "Token expiry checked against the wrong time: expired tokens and sessions stay valid.",
        Variant("issue_time", _expiry_against_issue, contextual=True),
        Variant("age_reversed", _age_reversed, splits=HELD_OUT),
        cwe="CWE-613", exploit_prefix="expiry_"),
    _op("mass_assignment", SECURITY, Severity.HIGH,
        "Record updated from request fields without the allow-list: callers can set protected fields.",
        Variant("unfiltered_update", _unfiltered_update), Variant("unfiltered_loop", _unfiltered_loop, splits=HELD_OUT),
        cwe="CWE-915", exploit_prefix="mass_"),

)
