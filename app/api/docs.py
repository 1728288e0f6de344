"""The OpenAPI document."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from app.api import bp


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document built from the marshmallow schemas."""
    return jsonify(current_app.extensions["openapi"])

