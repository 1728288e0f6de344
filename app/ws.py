"""WebSocket sessions at ``/ws``: OpenEnv's envelope and the original one on one endpoint.

A socket is one session. Every message is one short transaction, committed before the reply;
no transaction spans a ``receive()``. Nothing raised while handling a message escapes: it
becomes an error frame and the socket stays open (an exception escaping to the server would
write an HTTP response into the upgraded socket).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Optional

from flask import Flask, current_app, request
from flask_sock import Sock
from marshmallow import ValidationError

from app.auth import current_is_admin, current_owner
from app.db import get_database
from app.env import TaskRegistry
from app.jsonio import dumps_text
from app.errors import DomainError, ValidationFailed, error_body, from_exception
from app.schemas import (ActionSchema, ResetRequestSchema, SessionQuerySchema, StepOptionsSchema,
                         plainly_valid_action, plainly_valid_step_options)
from app.services import episodes, stepping
from app.services.mcp import handle_jsonrpc
from app.ws_channel import Channel, ChannelClosed, HandshakeOnly

log = logging.getLogger(__name__)
sock = Sock()

# OpenEnv's frame codes; domain errors without an OpenEnv equivalent travel as
# EXECUTION_ERROR with their HTTP-equivalent ``status`` and precise ``reason``.
INVALID_JSON = "INVALID_JSON"
UNKNOWN_TYPE = "UNKNOWN_TYPE"
VALIDATION_ERROR = "VALIDATION_ERROR"
EXECUTION_ERROR = "EXECUTION_ERROR"
CAPACITY_REACHED = "CAPACITY_REACHED"
RATE_LIMITED = "RATE_LIMITED"
# Frames longer than this many times WS_MAX_MESSAGE_BYTES close the socket instead.
HARD_FRAME_FACTOR = 16

reset_schema = ResetRequestSchema()
action_schema = ActionSchema()
step_options_schema = StepOptionsSchema()
session_query_schema = SessionQuerySchema()


class FrameError(Exception):
    """A bad frame, answered with an error frame of ``code``."""

    def __init__(self, code: str, message: str, fields: Optional[dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An OpenEnv error frame carrying the one error object."""
    data = error_body(code, message, extra.pop("fields", None))
    data.update(extra)
    return {"type": "error", "data": data}


def domain_error_frame(error: DomainError) -> dict[str, Any]:
    """Map a domain error to an error frame."""
    if isinstance(error, ValidationFailed):
        return error_frame(VALIDATION_ERROR, error.message, fields=error.fields)
    return error_frame(EXECUTION_ERROR, error.message, status=error.status, reason=error.code)


class ConnectionLimiter:
    """Counts open sockets of this process; refuses beyond the configured maximum."""

    def __init__(self, limit: int) -> None:
        self.limit, self.active = limit, 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.active >= self.limit:
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.active -= 1


class MessageRate:
    """Token bucket of one socket: ``rate`` messages a second on average, bursts of ``burst``.

    A refused message costs nothing; ``refused_in_a_row`` counts refusals since the last
    accepted message, so a client that ignores RATE_LIMITED frames can be disconnected.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, max(burst, 1), clock
        self.tokens = float(self.burst)
        self.updated = clock()
        self.refused_in_a_row = 0

    def allow(self) -> bool:
        """Take a token for one message; False when the socket is over its rate."""
        if self.rate <= 0:
            return True
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_in_a_row = 0
            return True
        self.refused_in_a_row += 1
        return False


class ReviewSocket:
    """The state of one WebSocket connection: its session and the episode id it echoes.

    ``owner`` is the owner label of the API key that opened the socket (None when keys are
    off): the socket sees only that key's sessions.
    """

    def __init__(self, app: Flask, owner: Optional[str] = None, admin: bool = False) -> None:
        self.app = app
        self.owner = owner
        self.admin = admin
        self.database = get_database(app)
        self.registry: TaskRegistry = app.extensions["registry"]
        self.max_message = app.config["WS_MAX_MESSAGE_BYTES"]
        self.session_id: Optional[str] = None
        # The current episode as this socket last wrote it: its next step needs no read.
        self.live: Optional[stepping.LiveEpisode] = None

    def bind(self, session_id: str) -> Optional[dict[str, Any]]:
        """Make this socket the existing session ``session_id`` (``/ws?session_id=``: a client
        that reconnects goes on with its episode, resending a step whose reply it lost with its
        ``expected_step`` or ``request_id``). Returns an error frame when there is no such
        session for this key (another key's is unknown here too)."""
        try:
            session_query_schema.load({"session_id": session_id})
        except ValidationError as exc:
            return error_frame(VALIDATION_ERROR, "the session_id of the URL is not valid", fields=exc.messages)
        with self.database.transaction(write=False) as db:
            known = episodes.session_exists(db, session_id, self.owner)
        if not known:
            return error_frame(EXECUTION_ERROR, f"unknown session {session_id!r}", status=404, reason="NOT_FOUND")
        self.session_id = session_id
        return None

    def handle(self, raw: Any) -> tuple[Optional[dict[str, Any]], bool]:
        """Answer one frame. Returns ``(reply or None, keep the socket open)``; never raises."""
        try:
            message = self._parse(raw)
            if "type" in message:
                return self._openenv(message)
            if "action" in message:
                return self._original(message), True
            raise FrameError(UNKNOWN_TYPE, "Unknown message type: a frame needs 'type' or 'action'")
        except FrameError as exc:
            return error_frame(exc.code, exc.message, fields=exc.fields), True
        except Exception as exc:  # noqa: BLE001 - every failure must become a frame
            return domain_error_frame(from_exception(exc)), True

    def _parse(self, raw: Any) -> dict[str, Any]:
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise FrameError(INVALID_JSON, "Invalid JSON: frames must be UTF-8 text") from None
        if not isinstance(raw, str):
            raise FrameError(INVALID_JSON, "Invalid JSON: empty frame")
        # The limit is in bytes: a character is 1 to 4 of them in UTF-8.
        if len(raw) > self.max_message or (4 * len(raw) > self.max_message
                                           and len(raw.encode("utf-8", "surrogatepass")) > self.max_message):
            raise FrameError(VALIDATION_ERROR, f"message larger than {self.max_message} bytes")
        try:
            # The application's parser: the one HTTP bodies go through, which refuses what
            # replies and stored JSON cannot hold (lone surrogates, NaN).
            message = self.app.json.loads(raw)
        except ValueError as exc:
            raise FrameError(INVALID_JSON, f"Invalid JSON: {exc}") from None
        except RecursionError:
            raise FrameError(INVALID_JSON, "Invalid JSON: nested too deeply") from None
        if not isinstance(message, dict):
            raise FrameError(VALIDATION_ERROR, "Invalid message: a frame must be a JSON object")
        return message

    # ------------------------------------------------------------------ OpenEnv envelope

    def _openenv(self, message: dict[str, Any]) -> tuple[Optional[dict[str, Any]], bool]:
        kind = message["type"]
        if kind == "reset":
            data = message.get("data") or {}
            if not isinstance(data, dict):
                raise FrameError(VALIDATION_ERROR, "Invalid message: 'data' must be an object")
            return {"type": "observation", "data": self._observation_data(self._reset(data))}, True
        if kind == "step":
            if "data" not in message:
                raise FrameError(VALIDATION_ERROR, "Invalid message: step needs 'data' (the action)")
            return {"type": "observation",
                    "data": self._observation_data(self._step(message["data"], _step_options(message)))}, True
        if kind == "state":
            return {"type": "state", "data": self._state()}, True
        if kind == "close":
            self._close()
            return None, False
        if kind == "mcp":
            response = handle_jsonrpc(self.database, self.registry, message.get("data"), owner=self.owner,
                                      admin=self.admin)
            return {"type": "mcp", "data": response}, True
        raise FrameError(UNKNOWN_TYPE, f"Unknown message type: {kind}")

    @staticmethod
    def _observation_data(body: dict[str, Any]) -> dict[str, Any]:
        data = {"observation": body["observation"], "reward": body["reward"], "done": body["done"]}
        metadata = dict(body.get("metadata") or {})
        metadata.update(session_id=body["session_id"], episode_id=body["episode_id"])
        data["metadata"] = metadata
        return data

    # ------------------------------------------------------------------ original envelope

    def _original(self, message: dict[str, Any]) -> dict[str, Any]:
        kind = message["action"]
        if kind == "reset":
            args = {key: value for key, value in message.items() if key != "action"}
            return {"type": "observation", "data": self._reset(args)}
        if kind == "step":
            return {"type": "observation", "data": self._step(message.get("data"), _step_options(message))}
        if kind == "state":
            return {"type": "state", "data": self._state()}
        if kind == "get_result":
            if self.session_id is None:
                raise FrameError(EXECUTION_ERROR, "no episode yet: send a reset first")
            with self.database.transaction(write=False) as db:
                return {"type": "result",
                        "data": episodes.session_result(db, self.registry, self.session_id, self.owner, self.admin)}
        raise FrameError(UNKNOWN_TYPE, f"Unknown message type: {kind}")

    # ------------------------------------------------------------------ shared actions

    def _reset(self, data: dict[str, Any]) -> dict[str, Any]:
        args = reset_schema.load(data)
        requested = args.pop("session_id")
        if self.session_id is not None and requested not in (None, self.session_id):
            raise ValidationFailed("a socket is one session; its session_id cannot change",
                                   fields={"session_id": ["differs from this socket's session"]})
        outcome, self.live = stepping.reset_session(self.database, self.registry, transport="ws", owner=self.owner,
                                                    admin=self.admin, session_id=self.session_id or requested, **args)
        self.session_id = outcome.session_id
        return outcome.to_wire()

    def _step(self, action: Any, options: dict[str, Any]) -> dict[str, Any]:
        """One step; ``options``: the message's ``expected_step`` and ``request_id``, if any."""
        if not plainly_valid_action(action):
            action_schema.load(action)  # the error frame names the fields at fault
        if options and not plainly_valid_step_options(options):
            step_options_schema.load(options)
        if self.session_id is None:
            raise FrameError(EXECUTION_ERROR, "no episode yet: send a reset first")
        live, self.live = self.live, None  # kept only once this step is written
        outcome, self.live = stepping.step_session(self.database, self.registry, self.session_id, action,
                                                   owner=self.owner, live=live,
                                                   expected_step=options.get("expected_step"),
                                                   request_id=options.get("request_id"))
        return outcome.to_wire()

    def _state(self) -> dict[str, Any]:
        if self.session_id is None:
            return {"episode_id": None, "step_count": 0}
        with self.database.transaction(write=False) as db:
            return episodes.session_state(db, self.registry, self.session_id, self.owner)

    def _close(self) -> None:
        if self.session_id is not None:
            self.live = None
            with self.database.transaction() as db:
                episodes.close_session(db, self.session_id, self.owner)


def _step_options(message: dict[str, Any]) -> dict[str, Any]:
    """The ``expected_step`` and ``request_id`` a step message carries beside its action."""
    return {key: message[key] for key in step_options_schema.fields if key in message}


def init_ws(app: Flask) -> None:
    """Bind the WebSocket routes and the per-process connection limit to ``app``."""
    app.extensions["ws_limiter"] = ConnectionLimiter(app.config["WS_MAX_CONNECTIONS"])
    if not 0 <= app.config["WS_DEFLATE_LEVEL"] <= 9:
        raise ValueError(f"WS_DEFLATE_LEVEL must be 0 to 9, got {app.config['WS_DEFLATE_LEVEL']}")
    # flask-sock answers the handshake; the frames are then read by app.ws_channel.
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"thread_class": HandshakeOnly})
    sock.init_app(app)


@sock.route("/ws")
def review_socket(ws: Any) -> None:
    """One WebSocket session."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # A frame over WS_MAX_MESSAGE_BYTES gets an error frame; one far over it is a flood, not a
    # mistake: the socket closes (1009) before the frame is buffered whole.
    channel = Channel(ws, max_size=HARD_FRAME_FACTOR * app.config["WS_MAX_MESSAGE_BYTES"],
                      deflate_level=app.config["WS_DEFLATE_LEVEL"],
                      ping_seconds=app.config["WS_PING_SECONDS"], idle_seconds=app.config["WS_IDLE_SECONDS"])
    limiter: ConnectionLimiter = app.extensions["ws_limiter"]
    if not limiter.acquire():
        try:
            channel.send(json.dumps(error_frame(
                CAPACITY_REACHED, f"Server at capacity: {limiter.limit} sockets open in this process",
                active_sessions=limiter.active, max_sessions=limiter.limit)))
            channel.close(1013, "capacity reached")
        except ChannelClosed:
            pass
        finally:
            channel.finish()
        return
    try:
        connection = ReviewSocket(app, current_owner(), current_is_admin())
        bound = request.args.get("session_id")
        if bound is not None:
            refusal = connection.bind(bound)
            if refusal is not None:
                channel.send(json.dumps(refusal))
                channel.close(1008, "unknown session")
                return
        rate = MessageRate(app.config.get("WS_MAX_MESSAGES_PER_SECOND", 0),
                           app.config.get("WS_MESSAGE_BURST", 1))
        close_after = app.config.get("WS_RATE_LIMIT_CLOSE_AFTER", 0)
        while True:
            raw = channel.receive()
            if not rate.allow():
                channel.send(json.dumps(error_frame(
                    RATE_LIMITED, f"Too many messages: at most {rate.rate} a second (bursts of {rate.burst})",
                    retry_after=round(1 / rate.rate, 3))))
                if close_after and rate.refused_in_a_row >= close_after:
                    channel.close(1008, "rate limit exceeded")
                    return
                continue
            reply, keep_open = connection.handle(raw)
            if reply is not None:
                channel.send(dumps_text(reply))
            if not keep_open:
                channel.close(1000, "closed by client request")
                return
    except ChannelClosed:
        return
    except Exception:  # noqa: BLE001 - never let an exception reach the server's HTTP layer
        log.exception("websocket handler failed")
        try:
            channel.send(json.dumps(error_frame(EXECUTION_ERROR, "internal error; the socket will close")))
            channel.close(1011, "internal error")
        except Exception:  # noqa: BLE001 - the peer may already be gone
            pass
    finally:
        limiter.release()
        channel.finish()
