"""gunicorn settings, read from the environment.

The worker is gevent's (see ``app/serving.py``): a connection, WebSocket or keep-alive, is a
greenlet, and a worker holds ``GUNICORN_WORKER_CONNECTIONS`` of them. The app refuses
WebSockets beyond ``WS_MAX_CONNECTIONS`` per worker (by default all connections but 256 kept
for HTTP) with CAPACITY_REACHED instead of letting them queue. ``GUNICORN_WORKER_CLASS=gthread``
runs gunicorn's threaded worker instead, where a socket holds one of ``GUNICORN_THREADS``.
"""

import os

from app.serving import default_workers, default_ws_connections, raise_open_file_limit

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '7860')}")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
workers = int(os.environ.get("GUNICORN_WORKERS") or default_workers())
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "2048"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
# connections across them. On one shared socket, whichever worker woke first took them: a
# burst of 16 connections could leave 15 on one worker and 1 on the other, and a WebSocket or
# keep-alive connection stays with the worker that accepted it. Not for a Unix socket (one
# path binds once) or a single worker (its socket alone then queues connections while it
# restarts); GUNICORN_REUSE_PORT=0 keeps one shared socket.
reuse_port = (workers > 1 and not bind.startswith(("unix:", "fd://"))
              and os.environ.get("GUNICORN_REUSE_PORT", "1") != "0")
os.environ.setdefault("WS_MAX_CONNECTIONS", str(default_ws_connections(worker_class, worker_connections, threads)))
raise_open_file_limit(worker_connections)
# A worker that stops answering its heartbeat for this long is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Seconds a keep-alive connection may stay quiet between requests. Under gevent it is also the
# longest a request's head (its line and headers) may take to arrive: a client that sends its
# headers a few bytes at a time is dropped then, and holds only a greenlet meanwhile.
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
