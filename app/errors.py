"""Domain errors and the one JSON error shape of every response.

Every error, REST or WebSocket, carries the same object::

    {"code": "VALIDATION_ERROR", "message": "...", "fields": {...}}

REST wraps it as ``{"error": {...}}`` with the HTTP status; WebSocket frames send it as
``{"type": "error", "data": {...}}`` (OpenEnv's frame). Codes follow OpenEnv's where it has one.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import sqlalchemy.exc
from flask import Flask, Response, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.env import EpisodeFinished, InvalidAction

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An error a client can act on; carries its HTTP status and error code."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, fields: Optional[dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        """The error object of the wire."""
        return error_body(self.code, self.message, self.fields)


class ValidationFailed(DomainError):
    """The request does not match the schema (422)."""

    status = 422
    code = "VALIDATION_ERROR"


class NotFound(DomainError):
    """Unknown session or episode (404)."""

    status = 404
    code = "NOT_FOUND"


class Conflict(DomainError):
    """Finished episode, concurrent step, or an id already taken (409)."""

    status = 409
    code = "CONFLICT"


class Unavailable(DomainError):
    """The database cannot be reached (503)."""

    status = 503
    code = "SERVICE_UNAVAILABLE"


def error_body(code: str, message: str, fields: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Build the one error object."""
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def from_exception(exc: BaseException) -> DomainError:
    """Translate engine, validation and database exceptions into domain errors.

    Anything unexpected becomes a generic 500-class error with no detail (the traceback goes to
    the log, never to the client).
    """
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return ValidationFailed("the request does not match the schema", fields=messages)
    if isinstance(exc, InvalidAction):
        return ValidationFailed(str(exc), fields={"action": [str(exc)]})
    if isinstance(exc, EpisodeFinished):
        return Conflict(str(exc))
    if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)) or (
        isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated
    ):
        log.warning("database unavailable: %s", exc)
        return Unavailable("the database is unavailable; retry shortly")
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        # Every pooled connection stayed busy for the pool timeout: overload, not a bug.
        log.warning("database connection pool exhausted: %s", exc)
        return Unavailable("the database is busy (no free connection); retry shortly")
    log.exception("unexpected error", exc_info=exc)
    error = DomainError("internal error")
    error.status, error.code = 500, "EXECUTION_ERROR"
    return error


def json_error(status: int, code: str, message: str, fields: Optional[dict[str, Any]] = None) -> Response:
    """A JSON error response."""
    response = jsonify({"error": error_body(code, message, fields)})
    response.status_code = status
    return response


HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


def register_error_handlers(app: Flask) -> None:
    """Make every error, including Werkzeug's and unexpected ones, a JSON response."""

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Response:
        status = exc.code or 500
        return json_error(status, HTTP_CODES.get(status, "HTTP_ERROR"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def handle_any(exc: Exception) -> Response:
        error = from_exception(exc)
        return json_error(error.status, error.code, error.message, error.fields)
