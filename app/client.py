"""Python client of the service: typed episodes over HTTP or a WebSocket.

Example::

    from app.client import CodeReviewerClient
    from app.env import CodeIssue, CodeReviewerAction, IssueType, Severity

    with CodeReviewerClient("http://localhost:7860") as client:      # or transport="ws"
        result = client.reset(task="syntax_check", seed=1, agent="me", model="my-model")
        result = client.step(CodeReviewerAction(
            action_type="identify_issue",
            issue=CodeIssue(line_number=29, issue_type=IssueType.SYNTAX_ERROR, severity=Severity.HIGH)))
        print(result.reward, result.observation.feedback)
        client.step({"action_type": "submit_review"})
        print(client.result().completion_score)

A client is one session: every ``reset`` starts a new episode in it. Calls on one instance are
serialised by a lock, so threads may share it; nothing reconnects behind the caller's back (a
lost connection raises :class:`ServerUnavailable` and the client stays unusable).
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import requests
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from app.env import CodeReviewerAction, CodeReviewerObservation, ReviewResult

Action = Union[CodeReviewerAction, dict[str, Any]]
TRANSPORTS = ("http", "ws")


class ClientError(Exception):
    """An error answered by the server (or the loss of the connection to it).

    Attributes:
        status: HTTP status, or its equivalent for a WebSocket error frame (``None`` when the
            server could not be reached).
        code: Error code of the wire (``NOT_FOUND``, ``CONFLICT``, ``VALIDATION_ERROR`` ...).
        message: Human-readable explanation from the server.
        fields: Per-field messages of a validation error.
    """

    def __init__(self, status: Optional[int], code: str, message: str,
                 fields: Optional[dict[str, Any]] = None) -> None:
        super().__init__(f"{code} ({status}): {message}" if status else f"{code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields


class NotFoundError(ClientError):
    """Unknown session or episode (404)."""


class ConflictError(ClientError):
    """Step on a finished episode, a lost race, an id already taken (409)."""


class ValidationError(ClientError):
    """The request breaks the wire contract (422); ``fields`` names each bad field."""


class ServerUnavailable(ClientError):
    """The server or its database cannot be reached (502/503/504, capacity, lost connection)."""


_ERROR_CLASSES: dict[int, type[ClientError]] = {
    404: NotFoundError, 409: ConflictError, 422: ValidationError,
    # 502 and 504 come from a proxy in front of a server that is down or stuck.
    502: ServerUnavailable, 503: ServerUnavailable, 504: ServerUnavailable,
}
# HTTP-equivalent status of the WebSocket frame codes that carry none.
_FRAME_STATUS = {"VALIDATION_ERROR": 422, "CAPACITY_REACHED": 503, "INVALID_JSON": 400, "UNKNOWN_TYPE": 400}


def error_from_wire(status: Optional[int], error: dict[str, Any]) -> ClientError:
    """Build the exception for an error object of the wire (``{"code", "message", ...}``)."""
    code = str(error.get("reason") or error.get("code") or "HTTP_ERROR")
    cls = _ERROR_CLASSES.get(status or 0, ClientError)
    return cls(status, code, str(error.get("message") or ""), error.get("fields"))


@dataclass(frozen=True)
class StepResult:
    """What ``reset`` and ``step`` return.

    Attributes:
        observation: The new observation.
        reward: The step's reward (``None`` after a reset).
        done: The episode has ended.
        session_id: The client's session.
        episode_id: The episode the step belongs to.
        metadata: Reset: task, seed, split. Step: ``reward_breakdown``, ``cumulative_reward``.
    """

    observation: CodeReviewerObservation
    reward: Optional[float]
    done: bool
    session_id: str
    episode_id: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> "StepResult":
        """Build from a ``/reset`` or ``/step`` reply."""
        reward = body.get("reward")
        return cls(
            observation=CodeReviewerObservation.from_dict(body["observation"]),
            reward=float(reward) if reward is not None else None,
            done=bool(body["done"]),
            session_id=str(body["session_id"]),
            episode_id=str(body["episode_id"]),
            metadata=dict(body.get("metadata") or {}),
        )


class _HttpTransport:
    """``POST /reset``, ``POST /step``, ``GET /state``, ``GET /result`` over one HTTP session."""

    def __init__(self, base_url: str, timeout: float, session_id: Optional[str]) -> None:
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.http = requests.Session()
        self.session_id = session_id

    def reset(self, args: dict[str, Any]) -> dict[str, Any]:
        body = self._call("POST", "/reset", json={**args, "session_id": self.session_id})
        self.session_id = body["session_id"]
        return body

    def step(self, action: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/step", json={"session_id": self.session_id, "action": action})

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state", params={"session_id": self.session_id})

    def result(self) -> dict[str, Any]:
        return self._call("GET", "/result", params={"session_id": self.session_id})

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServerUnavailable(None, "CONNECTION_ERROR", str(exc)) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                error = {"message": response.text[:500] or response.reason}
            raise error_from_wire(response.status_code, error)
        if not isinstance(body, dict):
            raise ClientError(response.status_code, "INVALID_RESPONSE", "the server did not answer a JSON object")
        return body


class _WebSocketTransport:
    """One socket at ``/ws``: OpenEnv's envelope, and the original one for the result."""

    def __init__(self, base_url: str, timeout: float, session_id: Optional[str]) -> None:
        self.timeout = timeout
        # A socket is one session: an id given here names it at the first reset.
        self.requested_session_id = session_id
        self.session_id: Optional[str] = None
        self.broken: Optional[str] = None
        # The socket lives as long as the client: hold its context open until close().
        self.lifetime = ExitStack()
        try:
            self.socket: ClientConnection = self.lifetime.enter_context(
                connect(websocket_url(base_url), open_timeout=timeout, close_timeout=timeout))
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ServerUnavailable(None, "CONNECTION_ERROR", f"cannot open {websocket_url(base_url)}: {exc}") from exc

    def reset(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.session_id is None and self.requested_session_id is not None:
            args = {**args, "session_id": self.requested_session_id}
        data = self._exchange({"type": "reset", "data": args}, "observation")
        body = self._flatten(data)
        self.session_id = body["session_id"]
        return body

    def step(self, action: dict[str, Any]) -> dict[str, Any]:
        return self._flatten(self._exchange({"type": "step", "data": action}, "observation"))

    def state(self) -> dict[str, Any]:
        return self._exchange({"type": "state"}, "state")

    def result(self) -> dict[str, Any]:
        return self._exchange({"action": "get_result"}, "result")

    def close(self) -> None:
        if self.broken is None:
            try:
                # Closing the session on the server marks a still-running episode abandoned.
                self.socket.send(json.dumps({"type": "close"}))
            except (OSError, WebSocketException):
                pass
        self.lifetime.close()
        self.broken = self.broken or "the client was closed"

    @staticmethod
    def _flatten(data: dict[str, Any]) -> dict[str, Any]:
        # OpenEnv frames carry the ids inside ``metadata``; give them the REST reply's shape.
        metadata = dict(data.get("metadata") or {})
        session_id, episode_id = metadata.pop("session_id"), metadata.pop("episode_id")
        return {**data, "metadata": metadata, "session_id": session_id, "episode_id": episode_id}

    def _exchange(self, frame: dict[str, Any], expected: str) -> dict[str, Any]:
        if self.broken is not None:
            raise ServerUnavailable(None, "CONNECTION_ERROR", f"the socket is unusable: {self.broken}")
        try:
            self.socket.send(json.dumps(frame))
            reply = json.loads(self.socket.recv(timeout=self.timeout))
        except (OSError, WebSocketException, TimeoutError, ValueError) as exc:
            # A late reply would be read as the answer to the next frame: never reuse the socket.
            self.broken = f"{exc.__class__.__name__}: {exc}"
            self.lifetime.close()
            raise ServerUnavailable(None, "CONNECTION_ERROR", self.broken) from exc
        kind, data = reply.get("type"), reply.get("data")
        if kind == "error" and isinstance(data, dict):
            status = data.get("status") or _FRAME_STATUS.get(str(data.get("code")))
            raise error_from_wire(status, data)
        if kind != expected or not isinstance(data, dict):
            raise ClientError(None, "INVALID_RESPONSE", f"expected a {expected!r} frame, got {reply.get('type')!r}")
        return data


def websocket_url(base_url: str) -> str:
    """``http(s)://host[:port][/prefix]`` -> ``ws(s)://host[:port][/prefix]/ws``."""
    url = base_url.rstrip("/")
    for http_scheme, ws_scheme in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http_scheme):
            url = ws_scheme + url[len(http_scheme):]
    return url + "/ws"


class CodeReviewerClient:
    """A session on a running server.

    Args:
        base_url: ``http://host:port`` of the server.
        transport: ``"http"`` (REST) or ``"ws"`` (one WebSocket for the client's lifetime).
        timeout: Seconds to wait for each reply (and for the socket to open).
        session_id: Continue this session (over HTTP, e.g. one started with curl) instead of
            creating one at the first reset; over a WebSocket it names the socket's session.

    Raises:
        ValueError: unknown transport.
        ServerUnavailable: the WebSocket cannot be opened.
    """

    def __init__(self, base_url: str, transport: str = "http", timeout: float = 30.0,
                 session_id: Optional[str] = None) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; use one of: {', '.join(TRANSPORTS)}")
        self.base_url, self.transport = base_url, transport
        self._lock = threading.Lock()
        self._wire: Union[_HttpTransport, _WebSocketTransport] = (
            _HttpTransport(base_url, timeout, session_id) if transport == "http"
            else _WebSocketTransport(base_url, timeout, session_id)
        )

    @property
    def session_id(self) -> Optional[str]:
        """The server's id of this client's session (``None`` before the first reset)."""
        return self._wire.session_id

    def reset(self, task: Optional[str] = None, seed: Optional[int] = None, split: Optional[str] = None,
              agent: Optional[str] = None, model: Optional[str] = None,
              episode_id: Optional[str] = None) -> StepResult:
        """Start a new episode (a still-running one of this session is abandoned).

        Args:
            task: Task name; the server's default (``syntax_check``) when ``None``.
            seed: Episode seed.
            split: ``train``, ``validation``, ``test`` or ``holdout``.
            agent: Label of the agent, stored on the episode.
            model: Label of the model, stored on the episode.
            episode_id: Id for the new episode; the server makes a UUID when ``None``.

        Raises:
            ValidationError: unknown task or split, bad seed.
            ConflictError: ``episode_id`` is taken.
        """
        given = {"task": task, "seed": seed, "split": split, "agent": agent, "model": model,
                 "episode_id": episode_id}
        args = {key: value for key, value in given.items() if value is not None}
        with self._lock:
            return StepResult.from_wire(self._wire.reset(args))

    def step(self, action: Action) -> StepResult:
        """Apply one action (a :class:`CodeReviewerAction` or its JSON form).

        Raises:
            ValidationError: the action breaks the contract.
            ConflictError: the episode has ended, or a concurrent step won.
            ClientError: no episode was started.
        """
        payload = action.to_dict() if isinstance(action, CodeReviewerAction) else action
        with self._lock:
            self._require_session()
            return StepResult.from_wire(self._wire.step(payload))

    def state(self) -> dict[str, Any]:
        """State of the current episode: ``episode_id``, ``step_count``, task, status, observation."""
        with self._lock:
            self._require_session()
            return self._wire.state()

    def result(self) -> ReviewResult:
        """The current episode's review result (final once it is done)."""
        with self._lock:
            self._require_session()
            return ReviewResult.from_dict(self._wire.result())

    def close(self) -> None:
        """Release the connection. A WebSocket session is closed on the server too."""
        with self._lock:
            self._wire.close()

    def __enter__(self) -> "CodeReviewerClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _require_session(self) -> None:
        if self._wire.session_id is None:
            raise ClientError(None, "NO_EPISODE", "no episode yet: call reset() first")
