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
        # `codereview abandon-idle` marks running episodes with no step for this long abandoned.
        "IDLE_EPISODE_SECONDS": _int_env("IDLE_EPISODE_SECONDS", 3600),
        # HTTP steps reuse the engine of the session this process last wrote (no read per
        # step) for up to this many sessions per process; 0 reads every time.
        "LIVE_EPISODES": _int_env("LIVE_EPISODES", 1024),
        "WS_MAX_MESSAGE_BYTES": _int_env("WS_MAX_MESSAGE_BYTES", 64 * 1024),
        "WS_MAX_CONNECTIONS": _int_env("WS_MAX_CONNECTIONS", 1000),
        # zlib level of replies on sockets that agreed to permessage-deflate (0-9). A step's
        # reply (about 6 KB, mostly the snippet sent again) compresses to about 430 bytes at 1
        # in 11 us, and to about 360 bytes at zlib's default 6 in 28 us.
        "WS_DEFLATE_LEVEL": _int_env("WS_DEFLATE_LEVEL", 1),
        # Token bucket per socket: sustained messages per second (0 turns it off) and burst.
        # Beyond it a message gets a RATE_LIMITED frame; after this many refusals in a row the
        # socket is closed (1008).
        "WS_MAX_MESSAGES_PER_SECOND": _int_env("WS_MAX_MESSAGES_PER_SECOND", 2000),
        "WS_MESSAGE_BURST": _int_env("WS_MESSAGE_BURST", 4000),
        "WS_RATE_LIMIT_CLOSE_AFTER": _int_env("WS_RATE_LIMIT_CLOSE_AFTER", 50),
        # Comma-separated bearer keys; none set = no authentication (local use). Admin keys
        # are valid keys that may also read analytics and export.
        "API_KEYS": os.environ.get("API_KEYS", ""),
        "ADMIN_API_KEYS": os.environ.get("ADMIN_API_KEYS", ""),
        "DB_POOL_SIZE": _int_env("DB_POOL_SIZE", 10),
        # NORMAL (with WAL): a committed step survives the process being killed (the reply is
        # sent after the commit), but the last commits may be lost if the machine itself loses
        # power. FULL adds an fsync per commit and survives that too; Postgres is the durable
        # production store.
        "SQLITE_SYNCHRONOUS": os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL"),
        # A thread per process copies the write-ahead log into the database file this often
        # (PASSIVE checkpoint), so that no commit waits for it; 0 leaves it to SQLite's own
        # checkpoint inside the commit that fills 1000 pages.
        "SQLITE_CHECKPOINT_INTERVAL_MS": _int_env("SQLITE_CHECKPOINT_INTERVAL_MS", 100),
        "TASKS_DIR": os.environ.get("CODEREVIEW_TASKS_DIR"),
        # Adds X-Served-By (the worker's pid) to responses: lets tests see which worker served.
        "SERVED_BY_HEADER": os.environ.get("SERVED_BY_HEADER", "") == "1",
    }
