"""Configuration read from the environment when the app is created (never at import time)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_database_url() -> str:
    """SQLite file in the project's ``instance/`` folder."""
    instance = PROJECT_ROOT / "instance"
    instance.mkdir(exist_ok=True)
    return f"sqlite:///{instance / 'codereview.db'}"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def from_environment() -> dict[str, Any]:
    """Settings taken from environment variables, with their defaults."""
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or default_database_url(),
        "PORT": _int_env("PORT", 7860),
        # Flask answers 413 above this many bytes of request body.
        "MAX_CONTENT_LENGTH": _int_env("MAX_BODY_BYTES", 64 * 1024),
        # SQLite waits this long for another writer before giving up with 503.
        "SQLITE_BUSY_TIMEOUT_MS": _int_env("SQLITE_BUSY_TIMEOUT_MS", 5000),
        "WS_MAX_MESSAGE_BYTES": _int_env("WS_MAX_MESSAGE_BYTES", 64 * 1024),
        "WS_MAX_CONNECTIONS": _int_env("WS_MAX_CONNECTIONS", 1000),
        "DB_POOL_SIZE": _int_env("DB_POOL_SIZE", 10),
        # FULL: a commit is on disk before the reply, power loss included.
        "SQLITE_SYNCHRONOUS": os.environ.get("SQLITE_SYNCHRONOUS", "FULL"),
        "TASKS_DIR": os.environ.get("CODEREVIEW_TASKS_DIR"),
        # Adds X-Served-By (the worker's pid) to responses: lets tests see which worker served.
        "SERVED_BY_HEADER": os.environ.get("SERVED_BY_HEADER", "") == "1",
    }
