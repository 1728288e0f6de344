"""OpenEnv discovery: /metadata, /schema and MCP over JSON-RPC at /mcp."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from app import __version__
from app.api import bp, registry, request_body
from app.auth import current_is_admin, current_owner
from app.db import get_database
from app.openapi import json_schema
from app.schemas import ActionSchema, ObservationSchema, StateSchema
from app.services.mcp import PARSE_ERROR, handle_jsonrpc, rpc_error

DESCRIPTION = (
    "An RL environment for code review: the agent reads a Python snippet, reports issues "
    "(line, type, severity, description, fix), may ask for hints, and submits its review for "
    "a deterministic reward."
)


@bp.get("/metadata")
def metadata() -> Response:
    """Name, description and version of the environment."""
    return jsonify({
        "name": "code-reviewer-env",
        "description": DESCRIPTION,
        "version": __version__,
        "author": None,
        "documentation_url": "/openapi.json",
        "readme_content": None,
        "tasks": registry().names(),
    })


@bp.get("/schema")
def schema() -> Response:
    """JSON schemas of the action, the observation and the state."""
    return jsonify({
        "action": json_schema(ActionSchema),
        "observation": json_schema(ObservationSchema),
        "state": json_schema(StateSchema),
    })


@bp.post("/mcp")
def mcp() -> Response:
    """JSON-RPC 2.0 endpoint; always HTTP 200 with a JSON-RPC body."""
    try:
        payload = current_app.json.loads(request_body() or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return jsonify(rpc_error(None, PARSE_ERROR, "Parse error: invalid JSON"))
    return jsonify(handle_jsonrpc(get_database(current_app), registry(), payload, owner=current_owner(),
                                  admin=current_is_admin()))
