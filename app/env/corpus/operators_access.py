"""Security operators for access control and secrets that only reading finds: a lookup that
drops its owner filter, a handler that lost its role check, a secret compared with ``==``, a
signature or expiry not checked, a record updated from a request without its field allow-list.

Each is proved by the module's exploit (``Operator.exploit_prefix``), never by a static rule.
"""

from __future__ import annotations

from app.env.corpus.operators import Operator

ACCESS_OPERATORS: tuple[Operator, ...] = ()
