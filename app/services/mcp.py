"""MCP over JSON-RPC 2.0: the environment's actions as tools.

Methods: ``tools/list``, ``tools/call``, ``openenv/session/create`` and
``openenv/session/close`` (OpenEnv's session methods). Tool names avoid the names OpenEnv
reserves (reset, step, state, close). Errors use JSON-RPC codes: -32700 parse error, -32600
invalid request, -32601 unknown method, -32602 invalid params (including unknown sessions),
-32000 a conflict (finished episode, concurrent step), -32603 internal error.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from marshmallow import Schema, ValidationError

from app.db import Database
from app.env import TaskRegistry
from app.errors import Conflict, DomainError, NotFound, ValidationFailed, from_exception
from app.openapi import json_schema
from app.schemas import (IdentifyIssueArgsSchema, ResetRequestSchema, SessionArgsSchema, StepToolArgsSchema,
                         unstorable)
from app.services import episodes, stepping

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_CONFLICT = -32000

SESSION_ARGS = SessionArgsSchema()
RESERVED_TOOL_NAMES = frozenset({"reset", "step", "state", "close"})
REQUEST_KEYS = frozenset({"jsonrpc", "method", "params", "id"})


class JsonRpcError(Exception):
    """An error to answer with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def rpc_error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    """A JSON-RPC error response."""
    return {"jsonrpc": "2.0", "id": request_id,
            "error": {"code": code, "message": message, "data": data}}


class McpTools:
    """The tool table, bound to the database, the task registry and the caller's owner label
    (None when API keys are off) and whether the caller's key is an admin key.

    Resets and steps take the same path as ``/reset`` and ``/step`` (``app.services.stepping``),
    so a step here follows the same concurrency contract and may carry ``expected_step`` and
    ``request_id``; every other tool is one transaction of its own.
    """

    def __init__(self, database: Database, registry: TaskRegistry, owner: Optional[str] = None,
                 admin: bool = False) -> None:
        self.database, self.registry, self.owner, self.admin = database, registry, owner, admin
        self.tools: dict[str, tuple[str, Schema, Callable[[dict[str, Any]], Any]]] = {
            "start_review": ("Start a code-review episode (task, seed, split, labels); returns the "
                             "first observation and the session_id to use afterwards.",
                             ResetRequestSchema(), self._start),
            "identify_issue": ("Report one issue in the snippet of the session's episode.",
                               IdentifyIssueArgsSchema(), self._identify),
            "request_hint": ("Ask for a hint (costs 0.05).", StepToolArgsSchema(), self._hint),
            "submit_review": ("Submit the review and end the episode.", StepToolArgsSchema(), self._submit),
            "get_review_state": ("State and current observation of the session's episode.",
                                 SessionArgsSchema(), self._state),
            "get_review_result": ("Score of the session's episode so far.", SessionArgsSchema(), self._result),
        }
        assert not RESERVED_TOOL_NAMES & self.tools.keys()

    def list(self) -> dict[str, Any]:
        """The ``tools/list`` result."""
        return {"tools": [
            {"name": name, "description": description, "inputSchema": json_schema(type(schema))}
            for name, (description, schema, _) in self.tools.items()
        ]}

    def call(self, name: Any, arguments: Any, session_id: Optional[str]) -> dict[str, Any]:
        """Run a tool; the result carries both MCP text content and structured content."""
        if not isinstance(name, str) or not name:
            raise JsonRpcError(INVALID_PARAMS, "Missing 'name' in params")
        if name not in self.tools:
            raise JsonRpcError(INVALID_PARAMS, f"Unknown tool: {name!r}")
        if not isinstance(arguments, dict):
            raise JsonRpcError(INVALID_PARAMS, "'arguments' must be an object")
        arguments = dict(arguments)
        if session_id is not None and "session_id" not in arguments:
            arguments["session_id"] = session_id
        _, schema, handler = self.tools[name]
        try:
            result = handler(schema.load(arguments))
        except ValidationError as exc:
            raise JsonRpcError(INVALID_PARAMS, "invalid arguments", {"fields": exc.messages}) from None
        return {"content": [{"type": "text", "text": json.dumps(result, default=str)}],
                "structuredContent": result, "isError": False}

    def _start(self, args: dict[str, Any]) -> dict[str, Any]:
        outcome, _ = stepping.reset_session(self.database, self.registry, transport="mcp", owner=self.owner,
                                            admin=self.admin, **args)
        return outcome.to_wire()

    def _act(self, args: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
        outcome, _ = stepping.step_session(self.database, self.registry, args["session_id"], action,
                                           owner=self.owner, expected_step=args.get("expected_step"),
                                           request_id=args.get("request_id"))
        return outcome.to_wire()

    def _identify(self, args: dict[str, Any]) -> dict[str, Any]:
        options = {key: args.pop(key) for key in ("session_id", "expected_step", "request_id")}
        confidence = args.pop("confidence")
        return self._act(options, {"action_type": "identify_issue", "issue": args, "confidence": confidence})

    def _hint(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._act(args, {"action_type": "request_hint"})

    def _submit(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._act(args, {"action_type": "submit_review"})

    def _state(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.database.transaction(write=False) as db:
            return episodes.session_state(db, self.registry, args["session_id"], self.owner)

    def _result(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.database.transaction(write=False) as db:
            return episodes.session_result(db, self.registry, args["session_id"], self.owner, self.admin)


def handle_jsonrpc(database: Database, registry: TaskRegistry, payload: Any,
                   owner: Optional[str] = None, admin: bool = False) -> dict[str, Any]:
    """Answer one JSON-RPC request on behalf of ``owner`` (an API key's label; None: keys off),
    an admin key when ``admin``. What a method writes is committed before it answers (and
    nothing of a method that fails)."""
    if not isinstance(payload, dict):
        return rpc_error(None, PARSE_ERROR, "Parse error: the body must be a JSON object")
    request_id = payload.get("id")
    problems = []
    if payload.get("jsonrpc") != "2.0":
        problems.append("'jsonrpc' must be \"2.0\"")
    if not isinstance(payload.get("method"), str):
        problems.append("'method' must be a string")
    if not isinstance(payload.get("params", {}), dict):
        problems.append("'params' must be an object")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (str, int))
                                   or unstorable(request_id) is not None):
        problems.append("'id' must be a string, an integer (within 64 bits) or null")
        request_id = None
    extra = sorted(set(payload) - REQUEST_KEYS)
    if extra:
        problems.append(f"unexpected keys: {', '.join(extra)}")
    if problems:
        return rpc_error(request_id, INVALID_REQUEST, "Invalid request: " + "; ".join(problems))

    method, params = payload["method"], payload.get("params", {})
    tools = McpTools(database, registry, owner, admin)
    try:
        if method == "tools/list":
            result = tools.list()
        elif method == "tools/call":
            result = tools.call(params.get("name"), params.get("arguments", {}), params.get("session_id"))
        elif method == "openenv/session/create":
            with database.transaction() as db:
                session = episodes.ensure_session(db, None, transport="mcp", owner=owner)
                db.flush()
                result = {"session_id": session.id}
        elif method == "openenv/session/close":
            try:
                session_id = SESSION_ARGS.load({"session_id": params.get("session_id")})["session_id"]
            except ValidationError as exc:
                raise JsonRpcError(INVALID_PARAMS, "Invalid params - 'session_id' is required",
                                   {"fields": exc.messages}) from None
            with database.transaction() as db:
                if not episodes.session_exists(db, session_id, owner):
                    raise JsonRpcError(INVALID_PARAMS, f"Unknown session_id: {session_id!r}")
                episodes.close_session(db, session_id, owner)
            result = {"session_id": session_id, "closed": True}
        else:
            raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
    except JsonRpcError as exc:
        return rpc_error(request_id, exc.code, exc.message, exc.data)
    except Exception as exc:  # domain and database errors become JSON-RPC errors, never a 500
        error = from_exception(exc)
        return rpc_error(request_id, _rpc_code(error), error.message, error.to_dict())
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _rpc_code(error: DomainError) -> int:
    if isinstance(error, (ValidationFailed, NotFound)):
        return INVALID_PARAMS
    if isinstance(error, Conflict) or error.status == 503:
        return SERVER_CONFLICT
    return INTERNAL_ERROR
