"""Stored history: episode listing, replay, analytics and export."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, stream_with_context

from app.api import bp, load, registry
from app.auth import current_owner
from app.db import get_database, request_session
from app.errors import NotFound
from app.schemas import AnalyticsQuerySchema, EpisodeListQuerySchema, EpisodePathSchema, ExportQuerySchema
from app.services import analytics, catalog, export, replay

list_schema = EpisodeListQuerySchema()
analytics_schema = AnalyticsQuerySchema()
export_schema = ExportQuerySchema()
path_schema = EpisodePathSchema()
FILTER_KEYS = ("task", "split", "agent", "model", "since", "until")


def filters_from(args: dict[str, Any]) -> analytics.Filters:
    """The common filters of a loaded query string."""
    return analytics.Filters(**{key: args.get(key) for key in FILTER_KEYS}, bucket=args.get("bucket", "day"))


@bp.get("/api/episodes")
def episode_list() -> Response:
    """Filtered, sorted, paginated episode summaries."""
    args = load(list_schema, request.args.to_dict())
    query = catalog.EpisodeQuery(filters=filters_from(args), status=args.get("status"),
                                 success=args.get("success"), sort=args["sort"], order=args["order"],
                                 page=args["page"], limit=args["limit"],
                                 owner=current_owner())
    return jsonify(catalog.list_episodes(request_session(), query))


@bp.get("/api/episodes/<episode_id>/replay")
def episode_replay(episode_id: str) -> Response:
    """Recorded and recomputed rewards of every step, side by side."""
    episode_id = load(path_schema, {"episode_id": episode_id})["episode_id"]
    return jsonify(replay.replay_episode(request_session(), registry(), episode_id, current_owner()))


@bp.get("/api/analytics/<name>")
def analytics_query(name: str) -> Response:
    """One analytics query as JSON rows."""
    if name not in analytics.QUERIES:
        raise NotFound(f"unknown analytics query {name!r}; valid: {', '.join(analytics.QUERIES)}")
    args = load(analytics_schema, request.args.to_dict())
    rows = analytics.run_query(request_session(), name, filters_from(args))
    return jsonify({"query": name, "rows": rows})


@bp.get("/api/export")
def export_jsonl() -> Response:
    """Every matching episode as a JSON Lines stream (one record per episode)."""
    args = load(export_schema, request.args.to_dict())
    database, tasks = get_database(current_app), registry()

    def generate():  # type: ignore[no-untyped-def]
        with database.session() as db:
            yield from export.jsonl_lines(export.iter_records(db, tasks, filters_from(args), status=args["status"]))

    return Response(stream_with_context(generate()), mimetype="application/x-ndjson",
                    headers={"Content-Disposition": "attachment; filename=episodes.jsonl"})
