"""Optional API keys (``API_KEYS``): who may call which endpoint, and who owns a session."""

from __future__ import annotations

from typing import Any


def init_auth(app: Any) -> None:
    """Require ``Authorization: Bearer <key>`` on ``app`` when keys are configured."""
