"""Optional API keys (``API_KEYS``): who may call which endpoint, and who owns a session.

With no key configured (the default, for local use) every request is allowed and nothing is
owned. With keys, every request but ``/health``, static files and the browser UI's page shells
must carry ``Authorization: Bearer <key>``; a missing or unknown key is a 401 in the one error
shape. Keys listed in ``ADMIN_API_KEYS`` are valid keys that may also read analytics and
export (403 for the others).

A session and its episodes belong to the key that created them: the rows store the key's
*owner label* (the first 16 hex digits of its SHA-256, never the key), and any other key is
told they do not exist (404). Services take that label as an argument; only this module reads
the request.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Iterable, Optional, Union

from flask import Flask, Response, g, request

from app.env import EVALUATION_SPLITS
from app.errors import NotFound, json_error

# Endpoints open without a key: the load balancer's probe and static files. Pages of the
# browser UI (blueprint "web") are empty shells that fetch their data from the API.
PUBLIC_ENDPOINTS = frozenset({"api.health", "static"})
PUBLIC_PREFIXES = ("web.",)
# Endpoints that read every key's episodes.
ADMIN_ENDPOINTS = frozenset({"api.analytics_query", "api.export_jsonl"})
REALM = 'Bearer realm="code-reviewer"'


def owner_label(key: str) -> str:
    """The label stored as the owner of what ``key`` creates (not reversible to the key)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _split_keys(raw: Union[str, Iterable[str], None]) -> list[str]:
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return [item.strip() for item in items if item and item.strip()]


@dataclass(frozen=True)
class KeyRing:
    """The configured keys; empty when authentication is off."""

    keys: tuple[bytes, ...]
    admin_keys: tuple[bytes, ...]

    @classmethod
    def from_config(cls, keys: Union[str, Iterable[str], None],
                    admin_keys: Union[str, Iterable[str], None]) -> "KeyRing":
        """Parse comma-separated strings (or lists) of keys."""
        admins = tuple(key.encode("utf-8") for key in _split_keys(admin_keys))
        normal = tuple(key.encode("utf-8") for key in _split_keys(keys))
        return cls(keys=normal + admins, admin_keys=admins)

    @property
    def enabled(self) -> bool:
        """Whether requests need a key."""
        return bool(self.keys)

    @staticmethod
    def _matches(candidate: bytes, keys: tuple[bytes, ...]) -> bool:
        # Compare with every key, without stopping early: the time taken does not tell which
        # key (or how much of one) matched.
        found = False
        for key in keys:
            found |= hmac.compare_digest(candidate, key)
        return found

    def is_valid(self, key: str) -> bool:
        """Whether ``key`` is one of the configured keys (admin keys included)."""
        return self._matches(key.encode("utf-8"), self.keys)

    def is_admin(self, key: str) -> bool:
        """Whether ``key`` is an admin key."""
        return self._matches(key.encode("utf-8"), self.admin_keys)


def bearer_token(header: Optional[str]) -> Optional[str]:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def current_owner() -> Optional[str]:
    """Owner label of the current request's key; None when keys are off."""
    return g.get("api_owner")


def current_is_admin() -> bool:
    """Whether the current request carries an admin key (False when keys are off)."""
    return bool(g.get("api_admin"))


def is_operator(owner: Optional[str], admin: bool) -> bool:
    """Whether the caller runs the deployment: an admin key, or anyone when keys are off
    (``owner`` None, local use). Only an operator sees what evaluation must keep from agents."""
    return owner is None or admin


def may_see_answer_key(split: str, owner: Optional[str], admin: bool) -> bool:
    """Whether the planted issues and decoys of an episode of ``split`` may be shown.

    Those of an evaluation split (``test``, ``holdout``) are for operators only (see
    :func:`is_operator`): the key that played sees its own steps, rewards and scores, never what
    it missed.
    """
    return is_operator(owner, admin) or split not in EVALUATION_SPLITS


def is_visible(record_owner: Optional[str], owner: Optional[str]) -> bool:
    """Whether a row owned by ``record_owner`` may be shown to ``owner``.

    ``owner`` None means authentication is off: everything is visible.
    """
    return owner is None or record_owner == owner


def ensure_visible(record_owner: Optional[str], owner: Optional[str], message: str) -> None:
    """Raise :class:`~app.errors.NotFound` with ``message`` when the row is not ``owner``'s.

    Another key's session looks exactly like an unknown one.
    """
    if not is_visible(record_owner, owner):
        raise NotFound(message)


def _unauthorized(message: str) -> Response:
    response = json_error(401, "UNAUTHORIZED", message)
    response.headers["WWW-Authenticate"] = REALM
    return response


def init_auth(app: Flask) -> None:
    """Require ``Authorization: Bearer <key>`` on ``app`` when keys are configured."""
    ring = KeyRing.from_config(app.config.get("API_KEYS"), app.config.get("ADMIN_API_KEYS"))
    app.extensions["auth"] = ring

    @app.before_request
    def authenticate() -> Optional[Response]:
        g.api_owner = None
        g.api_admin = False
        if not ring.enabled:
            return None
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES):
            return None
        key = bearer_token(request.headers.get("Authorization"))
        if key is None:
            return _unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        if not ring.is_valid(key):
            return _unauthorized("unknown API key")
        g.api_owner = owner_label(key)
        g.api_admin = ring.is_admin(key)
        if endpoint in ADMIN_ENDPOINTS and not g.api_admin:
            return json_error(403, "FORBIDDEN", "this endpoint needs an admin API key")
        return None
