"""Security headers added to every response."""

from __future__ import annotations

from typing import Any


def init_headers(app: Any) -> None:
    """Add the security headers (CSP and friends) to every response of ``app``."""
