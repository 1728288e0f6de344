"""gunicorn settings, read from the environment.

Each WebSocket holds a worker thread for its lifetime, so with the gthread worker the number of
concurrent sockets per process is bounded by GUNICORN_THREADS; the app refuses sockets beyond
WS_MAX_CONNECTIONS (defaulting to threads - 4, keeping threads free for HTTP) with
CAPACITY_REACHED instead of letting them queue.
"""

import os

from app.serving import default_workers

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '7860')}")
# LingeringThreadWorker is gunicorn's gthread worker serving a keep-alive connection's next
# request on the thread that answered the last one (see app/serving.py).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "app.serving.LingeringThreadWorker")
workers = int(os.environ.get("GUNICORN_WORKERS") or default_workers())
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
# connections across them. On one shared socket, whichever worker woke first took them: a
# burst of 16 connections could leave 15 on one worker and 1 on the other, and a WebSocket or
# keep-alive connection stays with the worker that accepted it. Not for a Unix socket (one
# path binds once) or a single worker (its socket alone then queues connections while it
# restarts); GUNICORN_REUSE_PORT=0 keeps one shared socket.
reuse_port = (workers > 1 and not bind.startswith(("unix:", "fd://"))
              and os.environ.get("GUNICORN_REUSE_PORT", "1") != "0")
os.environ.setdefault("WS_MAX_CONNECTIONS", str(max(1, threads - 4)))
# A worker that stops answering its heartbeat for this long is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
wsgi_app = "wsgi:app"
# The runtime control socket is not used; disabling it keeps gunicorn from writing to $HOME
# (read-only for the container user) and lets several servers run side by side.
control_socket_disable = True


def post_worker_init(worker):
    """Compute the episode generator's per-module caches before the worker serves its first
    request (about half a second), so that its first episodes are generated as fast as later
    ones (``TaskRegistry.warm``). ``WARM_GENERATOR=0`` leaves them to the first episodes."""
    if os.environ.get("WARM_GENERATOR", "1") != "0":
        worker.wsgi.extensions["registry"].warm()
