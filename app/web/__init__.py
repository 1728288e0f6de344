"""The browser UI: server-rendered pages over the JSON API."""

from __future__ import annotations

from typing import Any


def init_web(app: Any) -> None:
    """Register the UI's pages and static files on ``app``."""
