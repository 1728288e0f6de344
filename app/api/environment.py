"""The original environment API: /reset, /step, /state, /tasks, /health."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from app import __version__
from app.api import bp, json_body, load, registry
from app.auth import current_is_admin, current_owner
from app.db import get_database, request_session
from app.errors import json_error
from app.schemas import ResetRequestSchema, SessionQuerySchema, StepRequestSchema, plainly_valid_step_request
from app.services import episodes, stepping

reset_schema = ResetRequestSchema()
step_schema = StepRequestSchema()
session_query_schema = SessionQuerySchema()


@bp.post("/reset")
def reset() -> Response:
    """Start an episode in a session (created when absent)."""
    args = load(reset_schema, json_body(optional=True))
    owner = current_owner()
    outcome, live = stepping.reset_session(get_database(current_app), registry(), owner=owner,
                                           admin=current_is_admin(), **args)
    live_episodes().put(live, owner)
    return jsonify(outcome.to_wire())


@bp.post("/step")
def step() -> Response:
    """Apply one action to the session's current episode."""
    body = json_body()
    if not plainly_valid_step_request(body):
        load(step_schema, body)  # 422 with the fields at fault (or, rarely, valid after all)
    session_id = body["session_id"]
    owner, kept = current_owner(), live_episodes()
    outcome, live = stepping.step_session(get_database(current_app), registry(), session_id,
                                          body["action"], owner=owner, live=kept.take(session_id, owner),
                                          expected_step=body.get("expected_step"), request_id=body.get("request_id"))
    kept.put(live, owner)
    return jsonify(outcome.to_wire())


def live_episodes() -> stepping.LiveEpisodes:
    """This process's kept episodes (see :class:`~app.services.stepping.LiveEpisodes`)."""
    return current_app.extensions["live_episodes"]


@bp.get("/state")
def state() -> Response:
    """Current state of a session's episode."""
    args = load(session_query_schema, request.args.to_dict())
    return jsonify(episodes.session_state(request_session(), registry(), args["session_id"], current_owner()))


@bp.get("/result")
def result() -> Response:
    """Review result of a session's current episode."""
    args = load(session_query_schema, request.args.to_dict())
    return jsonify(episodes.session_result(request_session(), registry(), args["session_id"], current_owner(),
                                           current_is_admin()))


@bp.get("/tasks")
def tasks() -> Response:
    """The registered tasks."""
    tasks = registry()
    return jsonify({"tasks": [{**task.to_dict(), "split_sizes": tasks.split_sizes(task.name)}
                              for task in tasks.tasks()]})


@bp.get("/health")
def health() -> Response:
    """Liveness plus a database round trip; 503 when the database is unreachable."""
    database = get_database(current_app)
    try:
        database.ping()
    except Exception:  # any driver error means the same thing here: not serving
        return json_error(503, "SERVICE_UNAVAILABLE", "the database is unreachable")
    return jsonify({
        "status": "healthy",
        "database": database.url.get_backend_name(),
        "version": __version__,
        "tasks": len(registry().names()),
    })
