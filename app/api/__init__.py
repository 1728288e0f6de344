"""HTTP blueprints. A view is: load (schema) -> call a service -> commit -> dump."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from marshmallow import Schema, ValidationError

from app.env import TaskRegistry

bp = Blueprint("api", __name__)


def registry() -> TaskRegistry:
    """The application's task registry."""
    return current_app.extensions["registry"]


def json_body(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; ``{}`` for an empty optional body.

    Raises:
        ValidationError: the body is not a JSON object.
    """
    if optional and not request.get_data(cache=True):
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
