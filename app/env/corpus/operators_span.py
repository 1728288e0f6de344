"""Bugs that span lines: a site covers several consecutive lines of the module, and a reviewer
is credited on any of them (``Operator.span``). The module's line count never changes, so every
line after the site keeps its number.

Today: a role or ownership check moved after the action it guards. The guard still runs and
still refuses the caller, but the record was already changed; only reading the two lines in
order shows it. Each is proved by the module's authorisation exploit, which judges by effect (the
change happened) rather than by the refusal.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from app.env.corpus.operators import SECURITY, Operator, Severity, Variant, _code_part, _indent, _op
from app.env.corpus.operators_access import _OWNER_CHECK, _ROLE_CHECK

# A statement that may follow a guard and act: not a block, a jump, another guard or a decorator.
_NOT_AN_ACTION = re.compile(r"^\s*(?:if|elif|else|for|while|try|except|finally|with|def|class|return|raise|"
                            r"continue|break|pass|assert|@|#)\b|:$")


def _guard_after_action(guard: re.Pattern[str]) -> Callable[[str], Optional[str]]:
    """Swap a one-line guard with the statement after it: the action runs, then the check refuses
    the caller, too late. Both lines are the site (a reviewer reads them together)."""

    def rewrite(text: str) -> Optional[str]:
        first, _, second = text.partition("\n")
        code = _code_part(first)
        if not guard.match(code) or not code.rstrip().endswith(")") or "raise PermissionError(" not in code:
            return None
        action = _code_part(second)
        if _indent(first) != _indent(second) or not action.strip() or _NOT_AN_ACTION.match(action):
            return None
        return f"{second}\n{first}"

    return rewrite


SPAN_OPERATORS: tuple[Operator, ...] = (
    _op("role_check_after_action", SECURITY, Severity.HIGH,
        "Role check moved after the action it guards: the privileged action runs for any caller before the check refuses it.",
        Variant("swapped", _guard_after_action(_ROLE_CHECK)),
        cwe="CWE-862", exploit_prefix="authz_", span=2),
    _op("owner_check_after_use", SECURITY, Severity.HIGH,
        "Ownership check moved after the use of the record: another user's record is changed or read before the check refuses it.",
        Variant("swapped", _guard_after_action(_OWNER_CHECK)),
        cwe="CWE-639", exploit_prefix="bola_", span=2),
)
