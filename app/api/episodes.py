"""Recorded episodes."""

from __future__ import annotations

from flask import Response, jsonify

from app.api import bp, registry
from app.db import request_session
from app.schemas import EpisodeDetailSchema
from app.services import episodes

episode_schema = EpisodeDetailSchema()


@bp.get("/api/episodes/<episode_id>")
def episode_detail(episode_id: str) -> Response:
    """Full recorded history of one episode."""
    return jsonify(episode_schema.dump(episodes.episode_history(request_session(), registry(), episode_id)))
