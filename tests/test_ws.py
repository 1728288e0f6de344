"""WebSocket sessions against gunicorn: both envelopes, bad frames, failures inside the handler."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect
from wsproto.extensions import PerMessageDeflate as HandshakeDeflate

from app.env import load_registry
from app.ws_channel import negotiated_extensions

from conftest import LiveServer

SYNTAX = load_registry().get("syntax_check").canonical


def exchange(ws, frame) -> dict:  # type: ignore[no-untyped-def]
    ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))
    return json.loads(ws.recv(timeout=10))


def identify(line: int, issue_type: str = "syntax_error") -> dict:
    return {"action_type": "identify_issue", "metadata": {},
            "issue": {"line_number": line, "issue_type": issue_type, "severity": "high",
                      "description": "found over a socket"}}


def test_openenv_envelope_full_episode_is_persisted(live_server: LiveServer) -> None:
    with connect(live_server.ws_url) as ws:
        reply = exchange(ws, {"type": "reset", "data": {"task": "syntax_check", "seed": 3,
                                                        "episode_id": "ws-openenv-1"}})
        assert reply["type"] == "observation"
        assert reply["data"]["reward"] is None and reply["data"]["done"] is False
        seeded = load_registry().episode("syntax_check", seed=3)
        assert reply["data"]["observation"]["code_snippet"]["code"] == seeded.snippet.code
        state = exchange(ws, {"type": "state"})["data"]
        assert (state["episode_id"], state["step_count"]) == ("ws-openenv-1", 0)
        rewards = [exchange(ws, {"type": "step", "data": identify(issue.line_number)})["data"]["reward"]
                   for issue in seeded.issues]
        assert rewards == [issue.severity.value_points for issue in seeded.issues]
        state = exchange(ws, {"type": "state"})
        assert state["type"] == "state" and state["data"]["step_count"] == len(seeded.issues)
        final = exchange(ws, {"type": "step", "data": {"action_type": "submit_review", "metadata": {}}})
        assert final["data"]["done"] is True
        ws.send(json.dumps({"type": "close"}))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    history = requests.get(f"{live_server.url}/api/episodes/ws-openenv-1", timeout=10).json()
    assert history["status"] == "finished" and len(history["steps"]) == 8
    assert history["result"]["completion_score"] == 1.0


def test_original_envelope(live_server: LiveServer) -> None:
    with connect(live_server.ws_url) as ws:
        reset = exchange(ws, {"action": "reset", "task": "logic_bug_detection"})
        assert reset["data"]["observation"]["task_name"] == "logic_bug_detection"
        assert reset["data"]["session_id"] and reset["data"]["episode_id"]
        step = exchange(ws, {"action": "step", "data": {"action_type": "request_hint"}})
        assert step["data"]["reward"] == -0.05 and step["data"]["observation"]["hint_text"]
        state = exchange(ws, {"action": "state"})
        assert state["data"]["step_count"] == 1 and state["data"]["episode_id"] == reset["data"]["episode_id"]
        result = exchange(ws, {"action": "get_result"})
        assert result["type"] == "result" and result["data"]["hints_used"] == 1


@pytest.mark.parametrize("frame, code", [
    ("this is not json", "INVALID_JSON"),
    (b"\xff\xfe\x00", "INVALID_JSON"),
    ({"type": "frob"}, "UNKNOWN_TYPE"),
    ({"hello": "world"}, "UNKNOWN_TYPE"),
    ([1, 2, 3], "VALIDATION_ERROR"),
    ({"type": "step"}, "VALIDATION_ERROR"),
    ({"type": "step", "data": {"action_type": "fly"}}, "VALIDATION_ERROR"),
    ({"type": "step", "data": {"action_type": "identify_issue", "issue": {"line_number": 0}}}, "VALIDATION_ERROR"),
    ({"type": "reset", "data": {"task": "no_such_task"}}, "VALIDATION_ERROR"),
    ({"type": "reset", "data": {"seed": "x"}}, "VALIDATION_ERROR"),
    ("x" * (70 * 1024), "VALIDATION_ERROR"),
])
def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(live_server: LiveServer, frame, code) -> None:  # type: ignore[no-untyped-def]
    with connect(live_server.ws_url, max_size=None) as ws:
        exchange(ws, {"type": "reset", "data": {}})
        reply = exchange(ws, frame)
        assert reply["type"] == "error"
        assert reply["data"]["code"] == code and reply["data"]["message"]
        assert exchange(ws, {"type": "state"})["type"] == "state"


def test_step_before_reset_and_after_the_end(live_server: LiveServer) -> None:
    with connect(live_server.ws_url) as ws:
        early = exchange(ws, {"type": "step", "data": {"action_type": "submit_review"}})
        assert early["data"]["code"] == "EXECUTION_ERROR"
        assert exchange(ws, {"type": "state"})["data"] == {"episode_id": None, "step_count": 0}
        exchange(ws, {"type": "reset", "data": {}})
        exchange(ws, {"type": "step", "data": {"action_type": "submit_review"}})
        late = exchange(ws, {"type": "step", "data": {"action_type": "submit_review"}})
        assert late["data"]["code"] == "EXECUTION_ERROR" and late["data"]["status"] == 409


def test_server_answers_pings_while_a_step_runs(live_server: LiveServer) -> None:
    with connect(live_server.ws_url) as ws:
        exchange(ws, {"type": "reset", "data": {"task": "security_audit"}})
        ws.send(json.dumps({"type": "step", "data": identify(1, "security_vulnerability")}))
        assert ws.ping().wait(timeout=10)
        assert json.loads(ws.recv(timeout=10))["type"] == "observation"


def test_a_failure_inside_the_handler_is_an_error_frame_not_a_broken_socket(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # A database without tables makes every query fail inside the handler, under gunicorn.
    server = LiveServer(f"sqlite:///{tmp_path / 'empty.db'}", workers=1, threads=4)
    try:
        with connect(server.ws_url) as ws:
            for _ in range(3):
                reply = exchange(ws, {"type": "reset", "data": {}})
                assert reply["type"] == "error" and reply["data"]["code"] == "EXECUTION_ERROR"
                assert "Traceback" not in json.dumps(reply)
            assert exchange(ws, {"type": "state"})["type"] == "state"
    finally:
        server.stop()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_capacity_reached_beyond_the_socket_limit(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "cap.db"
    shutil.copy(sqlite_template, path)
    server = LiveServer(f"sqlite:///{path}", workers=1, threads=6, extra_env={"WS_MAX_CONNECTIONS": "2"})
    try:
        with connect(server.ws_url) as first, connect(server.ws_url) as second:
            exchange(first, {"type": "state"})
            exchange(second, {"type": "state"})
            with connect(server.ws_url) as third:
                refused = json.loads(third.recv(timeout=10))
                assert refused["type"] == "error" and refused["data"]["code"] == "CAPACITY_REACHED"
                with pytest.raises(ConnectionClosed):
                    third.recv(timeout=10)
    finally:
        server.stop()


def test_an_exception_escaping_the_frame_handler_closes_cleanly(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Even a bug outside the per-frame guard ends in an error frame and a clean close."""
    import threading

    from werkzeug.serving import make_server

    from app import ws as ws_module

    def explode(self, raw):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(ws_module.ReviewSocket, "handle", explode)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with connect(f"ws://127.0.0.1:{server.server_port}/ws") as ws:
            reply = exchange(ws, {"type": "state"})
            assert reply["type"] == "error" and reply["data"]["code"] == "EXECUTION_ERROR"
            assert "boom" not in json.dumps(reply)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.parametrize("compression", [
    None,
    "deflate",
    ClientPerMessageDeflateFactory(client_max_window_bits=10, server_max_window_bits=11,
                                   client_no_context_takeover=True, server_no_context_takeover=True),
], ids=["plain", "deflate", "deflate-small-windows-no-takeover"])
def test_compressed_and_plain_clients_play_whole_episodes(live_server: LiveServer, compression) -> None:  # type: ignore[no-untyped-def]
    """Frames after the handshake use what the handshake agreed: permessage-deflate (with its
    window sizes and context takeover) or nothing."""
    options = {"compression": compression} if compression in (None, "deflate") else \
        {"compression": None, "extensions": [compression]}
    with connect(live_server.ws_url, **options) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert ("permessage-deflate" in agreed) == (compression is not None)
        for seed in (11, 12):
            first = exchange(ws, {"type": "reset", "data": {"task": "syntax_check", "seed": seed}})
            seeded = load_registry().episode("syntax_check", seed=seed)
            assert first["data"]["observation"]["code_snippet"]["code"] == seeded.snippet.code
            for issue in seeded.issues:
                reply = exchange(ws, {"type": "step", "data": identify(issue.line_number)})
                assert reply["data"]["reward"] == issue.severity.value_points
                assert reply["data"]["observation"]["code_snippet"]["code"] == seeded.snippet.code


def test_replies_are_compressed_at_the_configured_level() -> None:
    agreed = HandshakeDeflate()
    agreed.accept("permessage-deflate")  # as the server's handshake accepts a client's offer
    assert agreed.enabled()
    handshake = SimpleNamespace(connection=SimpleNamespace(_proto=SimpleNamespace(extensions=[agreed])))
    reply = json.dumps({"code": "def f(x):\n    return x + 1\n" * 200}).encode()
    sizes = {}
    for level in (0, 1, 9):
        [deflate] = negotiated_extensions(handshake, level)
        sizes[level] = len(deflate.encode(Frame(Opcode.TEXT, reply)).data)
    assert sizes[0] >= len(reply) > 20 * sizes[1] and sizes[1] > sizes[9]  # 0 stores, 1 and 9 compress


def test_a_deflate_level_out_of_range_stops_the_app(make_app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="WS_DEFLATE_LEVEL"):
        make_app(WS_DEFLATE_LEVEL=10)


def test_a_fragmented_message_is_reassembled(live_server: LiveServer) -> None:
    frame = json.dumps({"type": "reset", "data": {"task": "syntax_check", "seed": 5}})
    with connect(live_server.ws_url) as ws:
        ws.send([frame[:7], frame[7:20], frame[20:]])
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "observation"
        assert reply["data"]["observation"]["code_snippet"]["code"] == \
            load_registry().episode("syntax_check", seed=5).snippet.code


def test_text_that_is_not_utf8_closes_with_1007(live_server: LiveServer) -> None:
    """A text frame must be UTF-8 (RFC 6455 8.1): the server fails the connection."""
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        raw.sendall(Frame(Opcode.TEXT, b'{"type": "\xff"}').serialize(mask=True, extensions=[]))
        received = head.split(b"\r\n\r\n", 1)[1]
        while chunk := raw.recv(4096):
            received += chunk
        assert received[0] == 0x88  # a close frame, unmasked, final
        assert int.from_bytes(received[2:4], "big") == 1007


def open_raw_websocket(port: int) -> socket.socket:
    """A WebSocket opened by hand that then reads and answers nothing, as a vanished peer."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = raw.recv(4096)
        assert chunk, "the server closed the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101")
    return raw


def server_frames(raw: socket.socket, seconds: float) -> tuple[list[tuple[int, bytes]], float]:
    """The frames the server sent on ``raw`` until it closed the TCP connection (opcode and
    payload; server frames are unmasked and short here), and the seconds that took."""
    started, data = time.monotonic(), b""
    raw.settimeout(seconds)
    while chunk := raw.recv(4096):
        data += chunk
    frames = []
    while data:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        frames.append((opcode, data[2:2 + length]))
        data = data[2 + length:]
    return frames, time.monotonic() - started


def test_a_vanished_peer_is_pinged_then_closed_and_its_slot_serves_the_next_client(sqlite_url: str) -> None:
    server = LiveServer(sqlite_url, workers=1, extra_env={
        "WS_MAX_CONNECTIONS": "1", "WS_PING_SECONDS": "1", "WS_IDLE_SECONDS": "600"})
    try:
        silent = open_raw_websocket(server.port)
        with connect(server.ws_url) as refused:  # the one slot is the silent peer's
            assert json.loads(refused.recv(timeout=10))["data"]["code"] == "CAPACITY_REACHED"
        frames, seconds = server_frames(silent, seconds=10)
        silent.close()
        # A ping after one quiet second, then, nothing having come back, a close (1011).
        assert [opcode for opcode, _ in frames] == [Opcode.PING.value, Opcode.CLOSE.value]
        assert int.from_bytes(frames[1][1][:2], "big") == 1011
        assert seconds < 5
        with connect(server.ws_url) as next_client:
            assert exchange(next_client, {"type": "reset", "data": {"task": "syntax_check"}})["type"] == "observation"
    finally:
        server.stop()


def test_a_peer_that_answers_pings_but_sends_nothing_is_closed_when_idle(sqlite_url: str) -> None:
    server = LiveServer(sqlite_url, workers=1, extra_env={"WS_PING_SECONDS": "1", "WS_IDLE_SECONDS": "3"})
    try:
        with connect(server.ws_url) as ws:
            assert exchange(ws, {"type": "reset", "data": {"task": "syntax_check"}})["type"] == "observation"
            started = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=15)
            waited = time.monotonic() - started
        # Pinged and answering meanwhile (the client answers by itself), so closed as idle, not gone.
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert 2.5 < waited < 6
    finally:
        server.stop()


def test_a_client_that_reconnects_binds_its_session_and_resends_a_lost_step_safely(live_server: LiveServer) -> None:
    """``/ws?session_id=`` makes a new socket the existing session: a step resent with its
    ``expected_step`` after a lost reply comes back replayed, not applied twice."""
    with connect(live_server.ws_url) as ws:
        reset = exchange(ws, {"type": "reset", "data": {"task": "syntax_check", "seed": 11}})
        session_id = reset["data"]["metadata"]["session_id"]
        first = exchange(ws, {"type": "step", "data": identify(2), "expected_step": 1})
        assert first["type"] == "observation"
    with connect(f"{live_server.ws_url}?session_id={session_id}") as ws:  # the reply was "lost"
        again = exchange(ws, {"type": "step", "data": identify(2), "expected_step": 1})
        assert again["type"] == "observation" and again["data"]["metadata"]["replayed"] is True
        assert again["data"]["observation"] == first["data"]["observation"]
        assert again["data"]["reward"] == first["data"]["reward"]
        other = exchange(ws, {"type": "step", "data": identify(3), "expected_step": 1})
        assert other["type"] == "error" and other["data"]["status"] == 409, other
        after = exchange(ws, {"type": "step", "data": identify(3), "expected_step": 2})
        assert after["type"] == "observation" and after["data"]["observation"]["step_number"] == 2
    state = requests.get(f"{live_server.url}/state", params={"session_id": session_id}, timeout=10).json()
    assert state["step_count"] == 2
    with connect(f"{live_server.ws_url}?session_id=no-such-session") as ws:
        refused = json.loads(ws.recv(timeout=10))
        assert refused["type"] == "error" and refused["data"]["status"] == 404
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
