"""Optional API keys: off by default, then 401 / 403, owner isolation on every transport, and
what the server must never do (cookies, keys stored in clear)."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from app.auth import KeyRing, bearer_token, owner_label

ALPHA, BETA, ROOT = "alpha-key-0001", "beta-key-0002", "root-key-0003"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def rows(app, query: str) -> list:  # type: ignore[no-untyped-def]
    with app.extensions["database"].engine.connect() as connection:
        return list(connection.execute(sa.text(query)))


@pytest.fixture
def keyed(make_app):  # type: ignore[no-untyped-def]
    return make_app(API_KEYS=f"{ALPHA}, {BETA}", ADMIN_API_KEYS=ROOT)


@pytest.fixture
def as_key(keyed):  # type: ignore[no-untyped-def]
    """``as_key(key).get(...)``: a test client that sends ``key`` with every request."""
    def client_for(key: str):  # type: ignore[no-untyped-def]
        client = keyed.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        return client
    return client_for


def rpc(client, method: str, **params) -> dict:  # type: ignore[no-untyped-def]
    return client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).get_json()


# ---------------------------------------------------------------------- keys off


def test_without_keys_everything_is_open_and_unowned(app, client) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/reset", json={"session_id": "open"}).status_code == 200
    assert client.get("/state?session_id=open").status_code == 200
    assert client.get("/api/analytics/summary").status_code == 200
    assert client.get("/api/export").status_code == 200
    assert rows(app, "SELECT owner FROM sessions WHERE id = 'open'") == [(None,)]
    assert rows(app, "SELECT owner FROM episodes") == [(None,)]
    # A key sent to a server without keys is ignored, not an error.
    assert client.get("/state?session_id=open", headers=bearer("anything")).status_code == 200


# ---------------------------------------------------------------------- keys on


@pytest.mark.parametrize("headers", [{}, bearer("wrong-key"), {"Authorization": f"Basic {ALPHA}"},
                                     {"Authorization": "Bearer"}, {"Authorization": ALPHA}])
def test_a_missing_or_unknown_key_is_401_in_the_one_error_shape(keyed, headers) -> None:  # type: ignore[no-untyped-def]
    client = keyed.test_client()
    for response in (client.get("/tasks", headers=headers), client.post("/reset", json={}, headers=headers),
                     client.get("/openapi.json", headers=headers), client.get("/no/such/page", headers=headers)):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["error"]["code"] == "UNAUTHORIZED"
        assert set(response.get_json()) == {"error"}


def test_health_static_files_and_ui_pages_need_no_key(keyed) -> None:  # type: ignore[no-untyped-def]
    keyed.add_url_rule("/ui-shell-probe", endpoint="web.probe", view_func=lambda: "<html></html>")
    client = keyed.test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/ui-shell-probe").status_code == 200
    static = next(rule.rule for rule in keyed.url_map.iter_rules() if rule.endpoint == "static")
    with client.get(static.replace("<path:filename>", "css/app.css")) as css:
        assert css.status_code == 200
    assert client.get(static.replace("<path:filename>", "missing.css")).status_code == 404


def test_valid_keys_and_admin_keys_are_accepted(as_key) -> None:  # type: ignore[no-untyped-def]
    for key in (ALPHA, BETA, ROOT):
        assert as_key(key).get("/tasks").status_code == 200
        assert as_key(key).post("/reset", json={}).status_code == 200
    lowercase = as_key(ALPHA)
    lowercase.environ_base["HTTP_AUTHORIZATION"] = f"bearer {ALPHA}"
    assert lowercase.get("/tasks").status_code == 200


def test_sessions_store_an_owner_label_not_the_key(keyed, as_key) -> None:  # type: ignore[no-untyped-def]
    as_key(ALPHA).post("/reset", json={"session_id": "mine", "episode_id": "mine-1"})
    label = hashlib.sha256(ALPHA.encode()).hexdigest()[:16]
    assert owner_label(ALPHA) == label
    assert rows(keyed, "SELECT owner FROM sessions WHERE id = 'mine'") == [(label,)]
    assert rows(keyed, "SELECT owner FROM episodes WHERE id = 'mine-1'") == [(label,)]
    dump = json.dumps([list(row) for row in rows(keyed, "SELECT * FROM sessions")], default=str)
    assert ALPHA not in dump


def test_another_keys_session_and_episodes_are_404_over_http(as_key) -> None:  # type: ignore[no-untyped-def]
    alpha, beta = as_key(ALPHA), as_key(BETA)
    alpha.post("/reset", json={"session_id": "alpha-s", "episode_id": "alpha-e"})
    alpha.post("/step", json={"session_id": "alpha-s", "action": {"action_type": "request_hint"}})
    beta.post("/reset", json={"session_id": "beta-s", "episode_id": "beta-e"})
    step = {"session_id": "alpha-s", "action": {"action_type": "submit_review"}}
    for response in (beta.get("/state?session_id=alpha-s"), beta.get("/result?session_id=alpha-s"),
                     beta.post("/step", json=step), beta.post("/reset", json={"session_id": "alpha-s"}),
                     beta.get("/api/episodes/alpha-e"), beta.get("/api/episodes/alpha-e/replay")):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "NOT_FOUND"
    # Nothing changed for the owner, who still sees everything.
    state = alpha.get("/state?session_id=alpha-s").get_json()
    assert (state["episode_id"], state["step_count"], state["status"]) == ("alpha-e", 1, "running")
    assert alpha.get("/api/episodes/alpha-e").status_code == 200
    assert alpha.get("/api/episodes/alpha-e/replay").status_code == 200
    # The listing shows each key its own episodes only.
    assert [item["id"] for item in alpha.get("/api/episodes").get_json()["items"]] == ["alpha-e"]
    listed = beta.get("/api/episodes").get_json()
    assert [item["id"] for item in listed["items"]] == ["beta-e"] and listed["total"] == 1


def test_another_keys_session_is_unknown_over_mcp(as_key) -> None:  # type: ignore[no-untyped-def]
    alpha, beta = as_key(ALPHA), as_key(BETA)
    started = rpc(alpha, "tools/call", name="start_review", arguments={"session_id": "alpha-mcp"})
    assert started["result"]["isError"] is False
    for name in ("get_review_state", "get_review_result", "request_hint", "submit_review"):
        reply = rpc(beta, "tools/call", name=name, arguments={"session_id": "alpha-mcp"})
        assert reply["error"]["code"] == -32602 and reply["error"]["data"]["code"] == "NOT_FOUND"
    closed = rpc(beta, "openenv/session/close", session_id="alpha-mcp")
    assert closed["error"]["code"] == -32602
    assert rpc(alpha, "tools/call", name="get_review_state",
               arguments={"session_id": "alpha-mcp"})["result"]["structuredContent"]["status"] == "running"
    created = rpc(beta, "openenv/session/create")["result"]["session_id"]
    reply = rpc(alpha, "tools/call", name="start_review", arguments={"session_id": created})
    assert reply["error"]["data"]["code"] == "NOT_FOUND"


def test_websocket_needs_a_key_and_sees_only_its_sessions(keyed, as_key, serve) -> None:  # type: ignore[no-untyped-def]
    as_key(ALPHA).post("/reset", json={"session_id": "alpha-ws"})
    address = serve(keyed)
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{address}/ws")
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        connect(f"ws://{address}/ws", additional_headers=bearer("wrong-key"))
    with connect(f"ws://{address}/ws", additional_headers=bearer(BETA)) as ws:
        ws.send(json.dumps({"type": "reset", "data": {"session_id": "alpha-ws"}}))
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error" and reply["data"]["status"] == 404
        ws.send(json.dumps({"type": "mcp", "data": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "get_review_state", "arguments": {"session_id": "alpha-ws"}}}}))
        assert json.loads(ws.recv(timeout=10))["data"]["error"]["data"]["code"] == "NOT_FOUND"
        ws.send(json.dumps({"type": "reset", "data": {}}))
        own = json.loads(ws.recv(timeout=10))
        assert own["type"] == "observation"
    beta_session = own["data"]["metadata"]["session_id"]
    assert as_key(BETA).get(f"/state?session_id={beta_session}").status_code == 200
    assert as_key(ALPHA).get(f"/state?session_id={beta_session}").status_code == 404


def test_analytics_and_export_need_an_admin_key(as_key) -> None:  # type: ignore[no-untyped-def]
    as_key(ALPHA).post("/reset", json={"session_id": "a1"})
    as_key(ALPHA).post("/step", json={"session_id": "a1", "action": {"action_type": "submit_review"}})
    for path in ("/api/analytics/summary", "/api/export"):
        forbidden = as_key(ALPHA).get(path)
        assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "FORBIDDEN"
        assert as_key(ROOT).get(path).status_code == 200
    # Admins read every key's episodes there.
    exported = as_key(ROOT).get("/api/export").get_data(as_text=True).splitlines()
    assert len(exported) == 1 and json.loads(exported[0])["status"] == "finished"


def test_the_leaderboard_keeps_keys_that_declare_the_same_labels_apart(as_key) -> None:  # type: ignore[no-untyped-def]
    """Agent and model are what a client says it is: two keys saying the same are two rows."""
    for key, session_id in ((ALPHA, "la"), (BETA, "lb"), (BETA, "lb2")):
        as_key(key).post("/reset", json={"session_id": session_id, "task": "syntax_check",
                                         "agent": "same-agent", "model": "same-model"})
        as_key(key).post("/step", json={"session_id": session_id, "action": {"action_type": "submit_review"}})
    leaderboard = as_key(ROOT).get("/api/analytics/agents").get_json()["rows"]
    by_owner = {row["owner"]: row["episodes"] for row in leaderboard if row["agent"] == "same-agent"}
    assert by_owner == {owner_label(ALPHA): 1, owner_label(BETA): 2}


def test_key_ring_parsing_and_comparison() -> None:
    ring = KeyRing.from_config(" a1 ,b2,, ", ["root"])
    assert ring.enabled and ring.is_valid("a1") and ring.is_valid("b2") and ring.is_valid("root")
    assert not ring.is_valid("a") and not ring.is_valid("a1 ") and not ring.is_valid("")
    assert ring.is_admin("root") and not ring.is_admin("a1")
    assert not KeyRing.from_config("", None).enabled
    assert bearer_token("Bearer  abc ") == "abc" and bearer_token("Basic abc") is None
    assert bearer_token(None) is None and bearer_token("Bearer ") is None


# ---------------------------------------------------------------------- security


def test_no_response_sets_a_cookie(app, client, keyed, as_key) -> None:  # type: ignore[no-untyped-def]
    session_id = client.post("/reset", json={}).get_json()["session_id"]
    requests = [
        lambda: client.get("/health"), lambda: client.get("/tasks"), lambda: client.get("/openapi.json"),
        lambda: client.get(f"/state?session_id={session_id}"), lambda: client.get("/state"),
        lambda: client.post("/step", json={"session_id": session_id, "action": {"action_type": "submit_review"}}),
        lambda: client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        lambda: client.get("/no/such/page"), lambda: client.get("/api/analytics/summary"),
        lambda: client.get("/api/export"), lambda: keyed.test_client().get("/tasks"),
        lambda: as_key(ALPHA).post("/reset", json={}), lambda: as_key(BETA).get("/api/export"),
    ]
    requests += [lambda path=rule.rule: client.get(path) for rule in app.url_map.iter_rules()
                 if "GET" in (rule.methods or ()) and not rule.arguments]
    for request in requests:
        with request() as response:
            response.get_data()  # a streamed body is produced (and could set headers) only when read
            assert "Set-Cookie" not in response.headers, response.request.path
