"""Security operators for what crosses a boundary, found only by reading: a fetch without the
module's allow-list (SSRF), a weakened path confinement or redirect host check, a regular
expression built from input, a log line that takes input unescaped, a file checked then used.

Each is proved by the module's exploit (``Operator.exploit_prefix``), never by a static rule.
"""

from __future__ import annotations

from app.env.corpus.operators import Operator

WEB_OPERATORS: tuple[Operator, ...] = ()
