"""Recorded episodes."""

from __future__ import annotations

from flask import Response, jsonify

from app.api import bp, load, registry
from app.auth import current_is_admin, current_owner
from app.db import request_session
from app.schemas import EpisodeDetailSchema, EpisodePathSchema
from app.services import episodes

episode_schema = EpisodeDetailSchema()
path_schema = EpisodePathSchema()


@bp.get("/api/episodes/<episode_id>")
def episode_detail(episode_id: str) -> Response:
    """Full recorded history of one episode."""
    episode_id = load(path_schema, {"episode_id": episode_id})["episode_id"]
    return jsonify(episode_schema.dump(episodes.episode_history(request_session(), registry(), episode_id,
                                                                current_owner(), current_is_admin())))
