"""The gunicorn worker (``app.serving.LingeringThreadWorker``): a keep-alive connection is served
whether its next request comes at once (same thread), after the linger (back through gunicorn's
poller), or pipelined behind the previous one in a single packet; a reply leaves in one TCP
segment, and a WebSocket's frames are not held back by that."""

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
        time.sleep(0.2)  # far beyond the linger: the connection went back to gunicorn's poller
        stream.sendall(request("/tasks"))
        assert read_response(stream, buffer)[0] == 200
        stream.sendall(request("/tasks") + request("/health"))  # two requests in one packet
        assert read_response(stream, buffer)[0] == 200
        status, body = read_response(stream, buffer)
        assert status == 200 and body["status"] == "healthy"
        assert not buffer


def _segments_sent_to(client: socket.socket) -> int:
    """TCP segments the server has sent on the connection ``client`` holds (``ss``'s counter)."""
    port = client.getsockname()[1]
    listing = subprocess.run(["ss", "-tinH", "state", "established", f"( dport = :{port} )"],
                             capture_output=True, text=True, check=True).stdout
    return int(re.search(r"segs_out:(\d+)", listing).group(1))


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs iproute2's ss to read TCP counters")
def test_a_reply_leaves_as_one_segment(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stream:
        buffer = bytearray()
        stream.sendall(request("/tasks"))
        read_response(stream, buffer)
        time.sleep(0.1)
        before = _segments_sent_to(stream)
        for _ in range(20):
            stream.sendall(request("/tasks"))
            assert read_response(stream, buffer)[0] == 200
            time.sleep(0.005)
        per_reply = (_segments_sent_to(stream) - before) / 20
    # Headers and body as two segments would be 2 per reply (more for a body above one MSS:
    # /tasks is a few kB). A stray ACK may add a little.
    assert per_reply < 1.5, per_reply


def test_websocket_frames_are_not_held_back(server: LocalServer) -> None:
    """A corked socket sends a partial segment only after 200 ms: 20 replies in a row would
    take 4 s if the WebSocket's socket were corked."""
    with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        started = time.monotonic()
        for _ in range(20):
            ws.send(json.dumps({"type": "state"}))
            json.loads(ws.recv(timeout=10))
        assert time.monotonic() - started < 2.0


def test_lingering_never_takes_every_thread() -> None:
    """Two threads and a linger of 3 s: the first connection's thread lingers on it; the
    second's may not (a thread lingers only while half the threads are free), so a third
    connection is served at once rather than after a linger ends."""
    server = LocalServer.with_temporary_database(workers=1, threads=2,
                                                 extra_env={"GUNICORN_KEEPALIVE_LINGER_MS": "3000"})
    try:
        streams = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(3)]
        buffers = [bytearray() for _ in streams]
        for stream, buffer in zip(streams[:2], buffers):
            stream.sendall(request("/health"))
            assert read_response(stream, buffer)[0] == 200
        started = time.monotonic()
        streams[2].sendall(request("/health"))
        assert read_response(streams[2], buffers[2])[0] == 200
        assert time.monotonic() - started < 1.5
        for stream, buffer in zip(streams, buffers):  # every connection is still served
            stream.sendall(request("/health"))
            assert read_response(stream, buffer)[0] == 200
        for stream in streams:
            stream.close()
    finally:
        server.stop()


def worker_policies(server: LocalServer) -> set[int]:
    """The scheduling policies of every thread of the server's worker processes (Linux)."""
    workers = [int(child) for task in Path(f"/proc/{server.process.pid}/task").iterdir()
               for child in (task / "children").read_text().split()]
    assert workers, "the server has no worker process"
    return {os.sched_getscheduler(int(thread.name)) for worker in workers
            for thread in Path(f"/proc/{worker}/task").iterdir()}


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_worker_threads_run_under_batch_scheduling(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stream:
        stream.sendall(request("/health"))  # the pool's threads exist once a request was served
        assert read_response(stream, bytearray())[0] == 200
        assert worker_policies(server) == {os.SCHED_BATCH}
    default = LocalServer.with_temporary_database(workers=1, threads=2, extra_env={"GUNICORN_SCHED_BATCH": "0"})
    try:
        assert worker_policies(default) == {os.SCHED_OTHER}
    finally:
        default.stop()


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
