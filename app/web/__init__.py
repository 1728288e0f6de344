"""The browser UI: server-rendered page shells over the JSON API.

The pages hold no stored data: each is a Jinja shell whose JavaScript module fetches the JSON
API, so whatever guards the API (API keys, owners) guards what the pages show.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

web = Blueprint("web", __name__)


@web.get("/")
def review() -> str:
    """Play an episode: pick a task, report issues line by line, submit."""
    return render_template("review.html", page="review")


@web.get("/episodes")
def episode_list() -> str:
    """The filterable, paginated list of stored episodes."""
    return render_template("episodes.html", page="episodes")


@web.get("/episodes/<episode_id>")
def episode_replay(episode_id: str) -> str:
    """Step through one stored episode."""
    return render_template("replay.html", page="episodes", episode_id=episode_id)


@web.get("/analytics")
def analytics() -> str:
    """Charts of the analytics queries."""
    return render_template("analytics.html", page="analytics")


def init_web(app: Flask) -> None:
    """Register the UI's pages on ``app`` (static files are the app's own ``/static``)."""
    app.register_blueprint(web)
