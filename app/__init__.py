"""Code Reviewer Environment: an RL environment for training and evaluating code reviewers.

``create_app`` is the only place an application is built.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:  # the engine imports this package: keep Flask out of its import
    from flask import Flask

__version__ = "0.1.0"


def create_app(config: Optional[Mapping[str, Any]] = None) -> "Flask":
    """Build the Flask application.

    Args:
        config: Settings overriding those read from the environment (``DATABASE_URL``,
            ``PORT``, ...). Tests pass their own database here.

    The database schema is not created here: run ``alembic upgrade head`` first.
    """
    from flask import Flask

    from app import config as settings
    from app.api import bp
    from app.auth import init_auth
    from app.db import init_db
    from app.env import load_registry
    from app.errors import register_error_handlers
    from app.headers import init_headers
    from app.openapi import build_openapi
    from app.services.deployment import episode_secret_source
    from app.services.stepping import LiveEpisodes
    from app.web import init_web
    from app.ws import init_ws

    from app.jsonio import FastJSONProvider

    app = Flask(__name__, instance_path=str(settings.PROJECT_ROOT / "instance"))
    app.json = FastJSONProvider(app)
    app.config.update(settings.from_environment())
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # keep the documented key order on the wire
    database = init_db(app)
    tasks = load_registry(app.config.get("TASKS_DIR"), app.config["HOLDOUT_DIR"], app.config["HOLDOUT_CATALOGUE_DIR"])
    app.extensions["registry"] = tasks.with_episode_secret(episode_secret_source(database, app.config["EPISODE_SECRET"]))
    app.extensions["openapi"] = build_openapi()
    app.extensions["live_episodes"] = LiveEpisodes(app.config["LIVE_EPISODES"])
    init_auth(app)
    init_ws(app)
    register_error_handlers(app)
    app.register_blueprint(bp)
    init_web(app)
    init_headers(app)
    if app.config["SERVED_BY_HEADER"]:
        app.after_request(_add_served_by)
    if not app.debug:
        logging.getLogger("app").setLevel(logging.INFO)
    return app


def _add_served_by(response: Any) -> Any:
    response.headers["X-Served-By"] = str(os.getpid())
    return response
