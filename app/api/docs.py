"""The OpenAPI document and the placeholder home page."""

from __future__ import annotations

from flask import Response, current_app, jsonify, render_template

from app.api import bp, registry


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document built from the marshmallow schemas."""
    return jsonify(current_app.extensions["openapi"])


@bp.get("/")
def index() -> str:
    """Placeholder home page linking to the API documents."""
    return render_template("index.html", tasks=registry().tasks())
