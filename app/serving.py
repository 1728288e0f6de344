"""How gunicorn serves the app (read by ``gunicorn.conf.py``).

The default worker is gunicorn's ``gevent`` worker: each connection, a WebSocket's included, is
a greenlet of a few kilobytes rather than a thread, so a process holds thousands of open
sessions, and slow or idle clients hold greenlets, not the threads every request needs. The
library calls the service makes block cooperatively once gevent has patched the standard
library: sockets, locks, psycopg (which waits on the patched ``select`` when it sees gevent)
and the SQLite write gate's file lock (waited for on gevent's thread pool, see
:func:`app.db.lock_file`).

gunicorn's ``gthread`` worker (``GUNICORN_WORKER_CLASS=gthread``) still works: a WebSocket
then holds a thread for its lifetime, so a process accepts ``threads - 4`` of them.
"""

from __future__ import annotations

import os
import resource

# Connections per worker kept for plain HTTP requests beyond its open WebSockets.
HTTP_RESERVE = 256
# Open files a worker needs beyond one per connection (the database, the write gate, logs).
SPARE_FILES = 256


def default_workers() -> int:
    """gunicorn processes when ``GUNICORN_WORKERS`` is unset: one per CPU core, at most four.

    Several processes use several cores for the engine's work; writers of a SQLite database
    take turns through :class:`~app.db.WriteGate`, Postgres serves them concurrently.
    """
    return max(1, min(os.cpu_count() or 1, 4))


def is_cooperative(worker_class: str) -> bool:
    """Whether ``worker_class`` serves connections as greenlets (gevent, eventlet) rather than
    on a thread each."""
    return any(name in worker_class.lower() for name in ("gevent", "eventlet"))


def default_ws_connections(worker_class: str, worker_connections: int, threads: int) -> int:
    """Open WebSockets a worker accepts when ``WS_MAX_CONNECTIONS`` is unset: its connections
    less those kept for HTTP (a greenlet worker), or its threads less four (a threaded one)."""
    if is_cooperative(worker_class):
        return max(1, worker_connections - min(HTTP_RESERVE, worker_connections // 2))
    return max(1, threads - 4)


def raise_open_file_limit(connections: int) -> int:
    """Raise this process's soft limit of open files (inherited by the workers it forks) to
    what ``connections`` need, within the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_FILES
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return wanted
        except (ValueError, OSError):
            return soft
    return soft
