"""The gunicorn worker the service runs on (``gunicorn.conf.py``).

gunicorn's threaded worker serves each request of a keep-alive connection on a pool thread and
then hands the connection back to its poller thread, which hands it to a pool thread again when
the next request arrives: four thread switches per request, which on a small machine cost more
CPU than Flask's own request handling. An agent's connection is a closed loop (reply, think,
next request), so :class:`LingeringThreadWorker` lets the thread that answered wait a moment
for the next request and serve it too; a connection that stays quiet goes back to the poller
as before. A thread lingers only while at least half of the worker's threads are free, so
lingering never keeps the requests gunicorn's poller hands out waiting for a thread.
WebSockets are unaffected (a socket holds its thread for its lifetime).

gunicorn writes a response's headers and its body with two ``send`` calls, and its sockets
have Nagle's algorithm off, so a small reply leaves as two TCP segments, each waking the
client. The worker corks the socket (``TCP_CORK``, Linux) while it answers a plain request,
so the reply leaves as one segment when the socket is uncorked after the last write; an
upgrade request (a WebSocket) is never corked, since its socket then carries frames.

The worker's threads run under Linux's ``SCHED_BATCH`` policy: a thread woken by its socket
or by a finished group commit then waits for the running thread's time slice instead of
preempting it at once. Under the default policy the woken thread often preempted the thread
holding the GIL, found the GIL taken and went back to sleep: two context switches for nothing.
The threads' priority is unchanged; ``GUNICORN_SCHED_BATCH=0`` keeps the default policy.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# How long a thread keeps a quiet keep-alive connection before handing it to the poller.
# 0 restores gunicorn's behaviour.
LINGER_SECONDS = float(os.environ.get("GUNICORN_KEEPALIVE_LINGER_MS", "20")) / 1000


# Whether the worker's threads run under Linux's SCHED_BATCH policy ("0" to keep the default).
BATCH_SCHEDULING = os.environ.get("GUNICORN_SCHED_BATCH", "1") != "0"


class LingeringThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker whose threads serve a keep-alive connection's next request
    themselves when it arrives within ``LINGER_SECONDS``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._busy_lock = threading.Lock()
        self._busy = 0  # threads inside handle(): serving, lingering or holding a WebSocket

    def init_process(self) -> None:
        if BATCH_SCHEDULING:
            _schedule_as_batch()  # before the thread pool exists: its threads inherit the policy
        super().init_process()

    def handle_request(self, req: Any, conn: Any) -> Any:
        corked = not _is_upgrade(req) and _cork(conn.sock, True)
        try:
            return super().handle_request(req, conn)
        finally:
            if corked:
                _cork(conn.sock, False)  # sends what the response left in the socket

    def handle(self, conn: Any) -> Any:
        with self._busy_lock:
            self._busy += 1
        try:
            result = super().handle(conn)
            while (result is True and self.alive and LINGER_SECONDS > 0 and self._busy * 2 <= self.cfg.threads
                   and _next_request_arrives(conn, LINGER_SECONDS)):
                result = super().handle(conn)
            return result
        finally:
            with self._busy_lock:
                self._busy -= 1


def _schedule_as_batch() -> bool:
    """Put the calling thread, and the threads it starts from now on, under ``SCHED_BATCH``;
    False where that policy does not exist (another OS) or is refused."""
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        return False
    return True


def _is_upgrade(req: Any) -> bool:
    """Whether ``req`` asks to switch protocols (gunicorn's header names are upper case)."""
    return any(name == "UPGRADE" for name, _ in req.headers)


def _cork(sock: socket.socket, on: bool) -> bool:
    """Set ``TCP_CORK`` on ``sock``; False where there is none (another OS, a Unix socket)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))
    except (AttributeError, OSError):
        return False
    return True


def _next_request_arrives(conn: Any, seconds: float) -> bool:
    """Whether ``conn`` has bytes of a next request now or within ``seconds``."""
    if conn.parser.unreader.buf.getvalue():  # read ahead while draining the last body
        return True
    poller = select.poll()
    poller.register(conn.sock, select.POLLIN)
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            if poller.poll(left * 1000):
                return True
    except (OSError, ValueError):  # closed meanwhile: the poller path reports it
        return False
    return False


def default_workers() -> int:
    """gunicorn processes when ``GUNICORN_WORKERS`` is unset: one per CPU core, at most four.

    Several processes use several cores for the engine's work; writers of a SQLite database
    take turns through :class:`~app.db.WriteGate`, Postgres serves them concurrently.
    """
    return max(1, min(os.cpu_count() or 1, 4))
