"""How gunicorn serves the app (``gunicorn.conf.py``, ``app/serving.py``): gevent's worker serves a
keep-alive connection's requests whenever they come, pipelined ones included; clients that send
their headers slowly hold neither the health check nor a step back; each worker listens on a
socket of its own; the limits follow the worker class."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from websockets.sync.client import connect

from app.devserver import LocalServer

from conftest import ROOT


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    running = LocalServer.with_temporary_database(workers=1, threads=4)
    try:
        yield running
    finally:
        running.stop()


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def read_response(stream: socket.socket, buffer: bytearray) -> tuple[int, dict]:
    """One HTTP/1.1 response with a Content-Length body from ``stream``; leftovers stay in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        chunk = stream.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length"))
    while len(rest) < length:
        chunk = stream.recv(65536)
        assert chunk, "the server closed the connection"
        rest += chunk
    buffer[:] = rest[length:]
    return int(lines[0].split()[1]), json.loads(rest[:length])


def test_one_keep_alive_connection_serves_quick_late_and_pipelined_requests(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stream:
        buffer = bytearray()
        for _ in range(5):  # each sent as soon as the last reply arrived: the lingering thread's
            stream.sendall(request("/tasks"))
            status, body = read_response(stream, buffer)
            assert status == 200 and len(body["tasks"]) >= 3
        time.sleep(0.2)  # a quiet moment between requests
        stream.sendall(request("/tasks"))
        assert read_response(stream, buffer)[0] == 200
        stream.sendall(request("/tasks") + request("/health"))  # two requests in one packet
        assert read_response(stream, buffer)[0] == 200
        status, body = read_response(stream, buffer)
        assert status == 200 and body["status"] == "healthy"
        assert not buffer


class _Registry:
    def __init__(self) -> None:
        self.warmed = 0

    def warm(self) -> None:
        self.warmed += 1


@pytest.mark.parametrize(("setting", "warmed"), [(None, 1), ("1", 1), ("0", 0)])
def test_a_worker_warms_the_generator_before_serving_unless_told_not_to(
        monkeypatch: pytest.MonkeyPatch, setting: str | None, warmed: int) -> None:
    settings: dict = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    if setting is None:
        monkeypatch.delenv("WARM_GENERATOR", raising=False)
    else:
        monkeypatch.setenv("WARM_GENERATOR", setting)
    registry = _Registry()
    worker = type("Worker", (), {"wsgi": type("App", (), {"extensions": {"registry": registry}})()})()
    settings["post_worker_init"](worker)
    assert registry.warmed == warmed


def listening_sockets(port: int) -> int:
    """IPv4 sockets listening on ``port`` (``/proc/net/tcp``: state 0A is LISTEN)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for row in rows if row[3] == "0A" and int(row[1].split(":")[1], 16) == port)


@pytest.mark.parametrize(("workers", "setting", "sockets"), [(2, None, 2), (2, "0", 1), (1, None, 1)])
def test_each_worker_listens_on_a_socket_of_its_own(workers: int, setting: str | None, sockets: int) -> None:
    """With several workers, each listens on its own ``SO_REUSEPORT`` socket and the kernel
    spreads connections across them; ``GUNICORN_REUSE_PORT=0`` (or one worker) keeps one."""
    extra = {} if setting is None else {"GUNICORN_REUSE_PORT": setting}
    running = LocalServer.with_temporary_database(workers=workers, threads=4, extra_env=extra)
    try:
        deadline = time.monotonic() + 30
        while listening_sockets(running.port) < sockets and time.monotonic() < deadline:
            time.sleep(0.1)  # the second worker may still be starting
        assert listening_sockets(running.port) == sockets
    finally:
        running.stop()


SLOW_CLIENTS = 300


def test_clients_sending_their_headers_slowly_delay_neither_health_nor_a_step() -> None:
    """300 sockets each sending a request head a few bytes every 2 s: the health check and an
    episode's reset and step are answered within 2 s meanwhile, and the server drops the slow
    sockets once the head has taken longer than the keep-alive time (5 s)."""
    running = LocalServer.with_temporary_database(workers=2)
    slow: list[socket.socket] = []
    try:
        for _ in range(SLOW_CLIENTS):
            stream = socket.create_connection(("127.0.0.1", running.port), timeout=10)
            stream.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n")
            slow.append(stream)
        started = time.monotonic()
        for round_ in range(4):
            for stream in slow:
                try:
                    stream.sendall(f"X-Slow-{round_}: a".encode())
                except OSError:
                    pass  # already dropped by the server
            for _ in range(2):
                began = time.monotonic()
                assert requests.get(running.url + "/health", timeout=2).status_code == 200
                reset = requests.post(running.url + "/reset", json={"task": "syntax_check"}, timeout=2)
                step = requests.post(running.url + "/step", timeout=2, json={
                    "session_id": reset.json()["session_id"], "action": {"action_type": "request_hint"}})
                assert step.status_code == 200
                assert time.monotonic() - began < 2
            time.sleep(max(0.0, started + 2 * (round_ + 1) - time.monotonic()))
        dropped = 0
        for stream in slow:
            stream.settimeout(0.5)
            try:
                dropped += stream.recv(4096) == b""
            except ConnectionResetError:
                dropped += 1
            except TimeoutError:
                pass
        assert dropped == SLOW_CLIENTS
    finally:
        for stream in slow:
            stream.close()
        running.stop()


def test_websocket_limit_and_open_files_follow_the_worker_class() -> None:
    from app.serving import default_ws_connections, raise_open_file_limit
    import resource

    assert default_ws_connections("gevent", 2048, 32) == 2048 - 256
    assert default_ws_connections("gevent", 64, 32) == 32
    assert default_ws_connections("gthread", 2048, 32) == 28
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_open_file_limit(1) == soft  # never lowered
    wanted = min(hard, soft + 512)
    assert raise_open_file_limit(wanted - 256) == wanted
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_make_runs_defaults_hold_1024_websocket_sessions_at_once() -> None:
    """gunicorn.conf.py's defaults (gevent's worker, two workers here): 1,024 WebSockets opened at
    once, each a reset and a step, all served while every one stays open (the benchmark's
    ``--hold``, which also reports the memory per session)."""
    from app.benchmark.load import hold_sessions
    from app.benchmark.server import process_tree_rss_mib

    running = LocalServer.with_temporary_database(workers=2)
    try:
        held = hold_sessions(running.url, 1024, timeout=30, rss=lambda: process_tree_rss_mib(running.process.pid))
        assert (held.served, held.refused, held.failed) == (1024, 0, 0), held.first_error
    finally:
        running.stop()
