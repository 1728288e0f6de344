"""HTTP blueprints. A view is: load (schema) -> call a service -> commit -> dump."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from app.env import TaskRegistry

bp = Blueprint("api", __name__)


def registry() -> TaskRegistry:
    """The application's task registry."""
    return current_app.extensions["registry"]


def request_body() -> bytes:
    """The request's body (kept for a later ``get_json``).

    Raises:
        RequestEntityTooLarge: the body is over ``MAX_BODY_BYTES``. One without Content-Length
            (chunked) is read up to the limit and no further, so the part read cannot tell a
            body of exactly the limit from a longer one: both are refused.
    """
    body = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(body) >= limit:
        raise RequestEntityTooLarge()
    return body


def json_body(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; ``{}`` for an empty optional body.

    Raises:
        ValidationError: the body is not a JSON object.
    """
    body = request_body()
    if optional and not body:
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser follows: not a usable body either
        data = None
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["the request body must be a JSON object"]})
    return data


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Validate ``data`` with ``schema`` (422 on failure)."""
    return schema.load(data)


from app.api import docs, environment, episodes, history, openenv  # noqa: E402,F401  (register routes)
