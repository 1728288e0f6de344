"""The anchor of ``codereview bench server``: this project's engine, in memory, behind OpenEnv's
own FastAPI server (``openenv.core.env_server.create_app``) run by uvicorn.

It keeps nothing on disk, so it is the speed a persistent service is measured against. Over
WebSocket, OpenEnv gives each socket its own environment; over HTTP its ``/reset`` and ``/step``
build a fresh environment per request, so the anchor keeps episodes in a per-process dictionary
keyed by ``episode_id`` (which the load sends with every step).

Run: ``uvicorn --factory app.benchmark.anchor:create_anchor_app`` (needs the ``openenv`` package).
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from openenv.core.env_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State
from pydantic import ConfigDict

from app.env import CodeReviewerAction, CodeReviewerEnv, TaskRegistry, load_registry


# Sockets the anchor serves at once (OpenEnv refuses more): as many as the benchmark opens.
MAX_SESSIONS = 8192


class ReviewAction(Action):
    """The engine's action on OpenEnv's wire."""

    action_type: str
    issue: Optional[dict[str, Any]] = None
    confidence: Optional[float] = None


class ReviewObservation(Observation):
    """The engine's observation; its fields travel as extra keys."""

    model_config = ConfigDict(extra="allow", validate_assignment=False, arbitrary_types_allowed=True)


class InMemoryReviewEnvironment(Environment):
    """``CodeReviewerEnv`` adapted to OpenEnv's interface, with no persistence."""

    SUPPORTS_CONCURRENT_SESSIONS = True
    _episodes: dict[str, CodeReviewerEnv] = {}
    _lock = threading.Lock()
    _registry: Optional[TaskRegistry] = None

    def __init__(self) -> None:
        super().__init__()
        if InMemoryReviewEnvironment._registry is None:
            InMemoryReviewEnvironment._registry = load_registry()
        self._env: Optional[CodeReviewerEnv] = None

    def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None,
              task: str = "syntax_check", **_: Any) -> ReviewObservation:
        """Start an episode and remember it under its id."""
        env = CodeReviewerEnv(task_name=task, registry=self._registry)
        observation = env.reset(seed=seed, episode_id=episode_id)
        self._env = env
        with self._lock:
            self._episodes[env.state["episode_id"]] = env
        return ReviewObservation(**{**observation.to_dict(), "reward": None, "done": False})

    def step(self, action: ReviewAction, episode_id: Optional[str] = None, **_: Any) -> ReviewObservation:  # type: ignore[override]
        """Apply one action to this socket's episode, or to ``episode_id``'s over HTTP."""
        env = self._env
        if episode_id is not None:
            with self._lock:
                env = self._episodes[episode_id]
        if env is None:
            raise RuntimeError("reset first")
        observation, reward, done, _info = env.step(CodeReviewerAction.from_dict(
            {"action_type": action.action_type, "issue": action.issue, "confidence": action.confidence}))
        if done:
            with self._lock:
                self._episodes.pop(env.state["episode_id"], None)
        return ReviewObservation(**{**observation.to_dict(), "reward": reward.step_reward, "done": done})

    @property
    def state(self) -> State:
        """The episode id and step count."""
        snapshot = self._env.state if self._env is not None else {}
        return State(episode_id=snapshot.get("episode_id"), step_count=snapshot.get("step_count", 0))


def create_anchor_app() -> Any:
    """The FastAPI application OpenEnv builds around the in-memory environment."""
    return create_app(InMemoryReviewEnvironment, ReviewAction, ReviewObservation,
                      env_name="code_reviewer_anchor", max_concurrent_envs=MAX_SESSIONS)
