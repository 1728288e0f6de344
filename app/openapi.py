"""The OpenAPI document, built by apispec from the marshmallow schemas of ``app.schemas``.

The same schemas validate requests, so the document cannot drift from the behaviour.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app import __version__
from app import schemas

COMPONENTS = {
    "Issue": schemas.IssueSchema,
    "Action": schemas.ActionSchema,
    "ResetRequest": schemas.ResetRequestSchema,
    "StepRequest": schemas.StepRequestSchema,
    "Observation": schemas.ObservationSchema,
    "StepResponse": schemas.StepResponseSchema,
    "State": schemas.StateSchema,
    "TaskList": schemas.TaskListSchema,
    "Health": schemas.HealthSchema,
    "Metadata": schemas.MetadataSchema,
    "EpisodeDetail": schemas.EpisodeDetailSchema,
    "Error": schemas.ErrorSchema,
}


# Cross-field rules marshmallow enforces in @validates_schema, which apispec cannot derive.
SCHEMA_RULES: dict[type, dict[str, Any]] = {
    schemas.ActionSchema: {
        "if": {"properties": {"action_type": {"const": "identify_issue"}}, "required": ["action_type"]},
        "then": {"required": ["issue"], "properties": {"issue": {"type": "object"}}},
    },
}


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _object(*required: str) -> dict[str, Any]:
    """A JSON object reply documented by its required keys only."""
    schema: dict[str, Any] = {"type": "object"}
    if required:
        schema["required"] = list(required)
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"description": "error", **_json("Error")} for status in statuses}


def build_openapi() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the HTTP API."""
    spec = APISpec(
        title="Code Reviewer Environment",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "An RL environment for training and evaluating AI code reviewers."},
    )
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, component=SCHEMA_RULES.get(schema), schema=schema)
    # Optional: needed only when the server has API keys (API_KEYS); 401 otherwise.
    spec.components.security_scheme("bearerKey", {"type": "http", "scheme": "bearer"})
    session_param = {"in": "query", "schema": schemas.SessionQuerySchema}
    episode_param = {"name": "episode_id", "in": "path", "required": True,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 128}}
    spec.path("/reset", operations={"post": {
        "summary": "Start an episode", "requestBody": {"required": False, **_json("ResetRequest")},
        "responses": {"200": {"description": "first observation", **_json("StepResponse")},
                      **_errors(409, 413, 422, 503)}}})
    spec.path("/step", operations={"post": {
        "summary": "Apply an action", "requestBody": {"required": True, **_json("StepRequest")},
        "responses": {"200": {"description": "observation and reward", **_json("StepResponse")},
                      **_errors(404, 409, 413, 422, 503)}}})
    spec.path("/state", operations={"get": {
        "summary": "State of a session's episode", "parameters": [session_param],
        "responses": {"200": {"description": "state", **_json("State")}, **_errors(404, 422)}}})
    spec.path("/result", operations={"get": {
        "summary": "Review result of a session's episode", "parameters": [session_param],
        "responses": {"200": {"description": "result", **_object()}, **_errors(404, 422)}}})
    spec.path("/tasks", operations={"get": {
        "summary": "Registered tasks", "responses": {"200": {"description": "tasks", **_json("TaskList")}}}})
    spec.path("/health", operations={"get": {
        "summary": "Health with a database check",
        "responses": {"200": {"description": "healthy", **_json("Health")}, **_errors(503)}}})
    spec.path("/metadata", operations={"get": {
        "summary": "Environment metadata", "responses": {"200": {"description": "metadata", **_json("Metadata")}}}})
    spec.path("/schema", operations={"get": {
        "summary": "JSON schemas of action, observation and state",
        "responses": {"200": {"description": "schemas"}}}})
    spec.path("/api/episodes", operations={"get": {
        "summary": "Filtered, sorted, paginated episode summaries",
        "parameters": [{"in": "query", "schema": schemas.EpisodeListQuerySchema}],
        "responses": {"200": {"description": "one page", **_object("items", "page", "limit", "total", "pages")},
                      **_errors(422)}}})
    spec.path("/api/episodes/{episode_id}", operations={"get": {
        "summary": "Recorded history of an episode", "parameters": [episode_param],
        "responses": {"200": {"description": "episode", **_json("EpisodeDetail")}, **_errors(404, 422)}}})
    spec.path("/api/episodes/{episode_id}/replay", operations={"get": {
        "summary": "Recorded and recomputed rewards of an episode, side by side", "parameters": [episode_param],
        "responses": {"200": {"description": "replay", **_object()}, **_errors(404, 422)}}})
    spec.path("/api/analytics/{name}", operations={"get": {
        "summary": "One analytics query as JSON rows (admin key when keys are on)",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"in": "query", "schema": schemas.AnalyticsQuerySchema}],
        "responses": {"200": {"description": "rows", **_object("query", "rows")}, **_errors(403, 404, 422)}}})
    spec.path("/api/export", operations={"get": {
        "summary": "Matching episodes as JSON Lines (admin key when keys are on)",
        "parameters": [{"in": "query", "schema": schemas.ExportQuerySchema}],
        "responses": {"200": {"description": "one JSON record per line",
                              "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                      **_errors(403, 422)}}})
    spec.path("/mcp", operations={"post": {
        "summary": "MCP over JSON-RPC 2.0 (tools/list, tools/call, openenv/session/create|close)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"200": {"description": "JSON-RPC response"}}}})
    document = spec.to_dict()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path != "/health":
                operation["security"] = [{}, {"bearerKey": []}]
                operation["responses"].setdefault("401", {"description": "error", **_json("Error")})
    return document


def json_schema(schema: type) -> dict[str, Any]:
    """A standalone JSON schema (nested schemas inlined) of a marshmallow schema class."""
    spec = APISpec(title="schemas", version=__version__, openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()])
    spec.components.schema("Root", component=SCHEMA_RULES.get(schema), schema=schema)
    components = spec.to_dict()["components"]["schemas"]
    return _inline(components["Root"], components)


def _inline(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _inline(components[ref.rsplit("/", 1)[1]], components)
        return {key: _inline(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, components) for item in node]
    return node

