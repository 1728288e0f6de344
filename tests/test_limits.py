"""Limits: body size, text length, issues per episode, open sockets and message rate."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.env import load_registry
from app.ws import MessageRate

from conftest import LiveServer

SYNTAX = load_registry().get("syntax_check")


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.get_json()
    assert response.mimetype == "application/json" and set(body) == {"error"}
    return body["error"]


def exchange(ws, frame) -> dict:  # type: ignore[no-untyped-def]
    ws.send(json.dumps(frame))
    return json.loads(ws.recv(timeout=10))


def identify(session_id: str, line: int, **issue_fields) -> dict:  # type: ignore[no-untyped-def]
    return {"session_id": session_id, "action": {"action_type": "identify_issue", "issue": {
        "line_number": line, "issue_type": "syntax_error", "severity": "high", **issue_fields}}}


@pytest.mark.parametrize("path", ["/reset", "/step", "/mcp"])
def test_a_body_over_the_limit_is_413_in_the_one_error_shape(make_app, path: str) -> None:  # type: ignore[no-untyped-def]
    client = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    response = client.post(path, data=json.dumps({"padding": "x" * 2000}), content_type="application/json")
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["message"]


def test_the_default_body_limit_is_64_kib(client) -> None:  # type: ignore[no-untyped-def]
    assert client.application.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    small = client.post("/reset", data=json.dumps({"agent": "a" * 100}), content_type="application/json")
    assert small.status_code == 200
    big = client.post("/reset", data=" " * (64 * 1024 + 1), content_type="application/json")
    assert big.status_code == 413 and error_of(big)["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("field", ["description", "suggested_fix"])
def test_text_longer_than_2000_characters_is_422_naming_the_field(client, field: str) -> None:  # type: ignore[no-untyped-def]
    client.post("/reset", json={"session_id": "long"})
    at_limit = client.post("/step", json=identify("long", 3, **{field: "x" * 2000}))
    assert at_limit.status_code == 200
    over = client.post("/step", json=identify("long", 4, **{field: "x" * 2001}))
    assert over.status_code == 422
    error = error_of(over)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["fields"] == {"action": {"issue": {field: ["Longer than maximum length 2000."]}}}
    assert client.get("/state?session_id=long").get_json()["step_count"] == 1


def test_issues_per_episode_are_bounded_by_max_steps(client) -> None:  # type: ignore[no-untyped-def]
    """Every report is a step, and an episode ends at its task's max_steps: no separate cap."""
    client.post("/reset", json={"session_id": "cap", "task": "syntax_check"})
    replies = [client.post("/step", json=identify("cap", line)) for line in range(1, SYNTAX.max_steps + 1)]
    assert all(reply.status_code == 200 for reply in replies)
    assert replies[-1].get_json()["done"] is True and not any(r.get_json()["done"] for r in replies[:-1])
    over = client.post("/step", json=identify("cap", SYNTAX.max_steps + 1))
    assert over.status_code == 409
    error = error_of(over)
    assert error["code"] == "CONFLICT" and "finished" in error["message"] and "/reset" in error["message"]
    assert client.get("/result?session_id=cap").get_json()["steps_used"] == SYNTAX.max_steps


def test_sockets_beyond_the_per_process_limit_get_capacity_reached(make_app, serve) -> None:  # type: ignore[no-untyped-def]
    address = serve(make_app(WS_MAX_CONNECTIONS=1))
    with connect(f"ws://{address}/ws", close_timeout=1) as first:
        assert exchange(first, {"type": "state"})["type"] == "state"
        # The test server may hold the TCP connection a moment after the close frame: the client
        # must not wait its default 10 s for it before reporting the close.
        with connect(f"ws://{address}/ws", close_timeout=1) as second:
            refused = json.loads(second.recv(timeout=10))
            assert refused["type"] == "error" and refused["data"]["code"] == "CAPACITY_REACHED"
            assert refused["data"]["max_sessions"] == 1
            with pytest.raises(ConnectionClosed) as closed:
                second.recv(timeout=20)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    # The slot is released when a socket closes.
    with connect(f"ws://{address}/ws", close_timeout=1) as again:
        assert exchange(again, {"type": "state"})["type"] == "state"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_message_rate_token_bucket() -> None:
    clock = FakeClock()
    rate = MessageRate(rate=2, burst=3, clock=clock)
    assert [rate.allow() for _ in range(4)] == [True, True, True, False]
    assert rate.refused_in_a_row == 1
    clock.now += 0.5  # one token back at 2 a second
    assert rate.allow() is True and rate.refused_in_a_row == 0
    assert rate.allow() is False
    clock.now += 60  # refills up to the burst, not beyond
    assert [rate.allow() for _ in range(4)] == [True, True, True, False]
    unlimited = MessageRate(rate=0, burst=1, clock=clock)
    assert all(unlimited.allow() for _ in range(1000))


def test_a_socket_over_its_message_rate_gets_rate_limited_then_closed(make_app, serve) -> None:  # type: ignore[no-untyped-def]
    address = serve(make_app(WS_MAX_MESSAGES_PER_SECOND=1, WS_MESSAGE_BURST=3, WS_RATE_LIMIT_CLOSE_AFTER=4))
    with connect(f"ws://{address}/ws") as ws:
        assert [exchange(ws, {"type": "state"})["type"] for _ in range(3)] == ["state"] * 3
        limited = exchange(ws, {"type": "state"})
        assert limited["type"] == "error" and limited["data"]["code"] == "RATE_LIMITED"
        assert limited["data"]["message"] and limited["data"]["retry_after"] == 1.0
        for _ in range(3):  # four refusals in a row: the socket is closed
            assert exchange(ws, {"type": "state"})["data"]["code"] == "RATE_LIMITED"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_the_default_message_rate_lets_a_fast_client_play(make_app, serve) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    assert app.config["WS_MAX_MESSAGES_PER_SECOND"] >= 100 and app.config["WS_MESSAGE_BURST"] >= 150
    with connect(f"ws://{serve(app)}/ws") as ws:
        replies = [exchange(ws, {"type": "state"})["type"] for _ in range(150)]
    assert replies == ["state"] * 150


def test_frames_over_the_message_limit_get_an_error_and_far_over_it_close(tmp_path, sqlite_template) -> None:  # type: ignore[no-untyped-def]
    """Under gunicorn: a frame over WS_MAX_MESSAGE_BYTES is an error frame; one sixteen times
    over closes the socket (1009) and its slot is released."""
    shutil.copy(sqlite_template, tmp_path / "frames.db")
    server = LiveServer(f"sqlite:///{tmp_path / 'frames.db'}", workers=1, threads=4,
                        extra_env={"WS_MAX_MESSAGE_BYTES": "1024", "WS_MAX_CONNECTIONS": "1"})
    try:
        with connect(server.ws_url) as ws:
            over = exchange(ws, {"type": "reset", "data": {"agent": "x" * 2000}})
            assert over["type"] == "error" and over["data"]["code"] == "VALIDATION_ERROR"
            assert "1024" in over["data"]["message"]
            # The limit counts bytes: 600 characters of three bytes each are 1,800 of them.
            wide = exchange(ws, {"type": "reset", "data": {"agent": "\u20ac" * 600}})
            assert wide["type"] == "error" and wide["data"]["code"] == "VALIDATION_ERROR", wide
            assert exchange(ws, {"type": "state"})["type"] == "state"
            ws.send("x" * (16 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        deadline = time.monotonic() + 10
        while True:  # the closed socket's slot comes back (the handler notices within seconds)
            with connect(server.ws_url) as ws:
                try:
                    reply = exchange(ws, {"type": "state"})
                except ConnectionClosed:  # refused at capacity while the request was sent
                    reply = {"type": "refused"}
            if reply["type"] == "state" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert reply["type"] == "state", reply
    finally:
        server.stop()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/reset", '{"task": "syntax_check", "seed": 18446744073709551616}', "seed"),
    ("/reset", '{"task": "syntax_check", "seed": -100000000000000000000000}', "seed"),
])
def test_an_integer_beyond_64_bits_is_a_422_naming_its_field(client, path: str, body: str, field: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 422, response.get_json()
    assert field in error_of(response)["fields"]


def test_an_expected_step_beyond_64_bits_is_a_422_naming_it(client) -> None:  # type: ignore[no-untyped-def]
    session_id = client.post("/reset", json={"task": "syntax_check"}).get_json()["session_id"]
    body = ('{"session_id": "%s", "expected_step": 100000000000000000000, '
            '"action": {"action_type": "request_hint"}}' % session_id)
    response = client.post("/step", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "expected_step" in error_of(response)["fields"]


@pytest.mark.parametrize("path", ["/reset", "/mcp"])
def test_a_chunked_body_over_the_limit_is_413(sqlite_url: str, path: str) -> None:
    """A body without Content-Length (chunked) is counted as it is read, under gunicorn."""
    import socket

    server = LiveServer(sqlite_url, workers=1, extra_env={"MAX_BODY_BYTES": "1024"})
    try:
        payload = json.dumps({"task": "syntax_check", "agent": "x" * 4000}).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[n:n + 500]), payload[n:n + 500])
                          for n in range(0, len(payload), 500)) + b"0\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stream:
            stream.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)
            reply = b""
            while chunk := stream.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"PAYLOAD_TOO_LARGE" in body
    finally:
        server.stop()
