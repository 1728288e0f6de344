"""A stalled database answers 503 within its limit and the worker goes on serving: a Postgres
that stops answering mid-query (a relay that forwards nothing more), a row lock held by another
connection, and SQLite's write lock held by another process."""

from __future__ import annotations

import inspect
import sqlite3
import threading
import time
from importlib import metadata

import psycopg
import requests
import sqlalchemy as sa

from app.db import BoundedConnection

from conftest import LiveServer
from tcp_proxy import TcpProxy

HINT = {"action_type": "request_hint"}


def test_the_psycopg_internals_the_answer_timeout_relies_on_are_where_they_were() -> None:
    """``BoundedConnection`` overrides ``psycopg.Connection.wait`` (undocumented): fail loudly if
    psycopg moves it, rather than silently losing the bound."""
    assert metadata.version("psycopg") == "3.3.9", "pinned in pyproject.toml: check wait() before moving"
    assert list(inspect.signature(psycopg.Connection.wait).parameters) == ["self", "gen", "interval", "timeout"]
    assert issubclass(psycopg.errors._WaitTimeout, psycopg.OperationalError)
    assert BoundedConnection.wait is not psycopg.Connection.wait


def step(url: str, session_id: str, timeout: float = 30) -> requests.Response:
    return requests.post(f"{url}/step", json={"session_id": session_id, "action": HINT}, timeout=timeout)


def reset(url: str) -> str:
    response = requests.post(f"{url}/reset", json={"task": "syntax_check"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "SERVICE_UNAVAILABLE", body


def test_a_postgres_that_stops_answering_gives_503_within_the_limit(fresh_postgres_url: str) -> None:
    target = sa.make_url(fresh_postgres_url)
    proxy = TcpProxy((target.host or "127.0.0.1", target.port or 5432))
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    # One worker: what it serves during the stall, it serves beside the stalled request.
    server = LiveServer(proxied, workers=1, extra_env={"DB_STATEMENT_TIMEOUT_MS": "1000", "PGCONNECT_TIMEOUT": "2"})
    try:
        session_id = reset(server.url)
        assert step(server.url, session_id).status_code == 200
        proxy.stall()
        started = time.monotonic()
        stalled = step(server.url, session_id)
        waited = time.monotonic() - started
        assert_unavailable(stalled)
        assert waited < 1.0 + 2.0 + 2.5, waited  # the statement timeout, the grace, and a reconnect's wait
        # Meanwhile the worker serves what needs no database at once.
        began = time.monotonic()
        assert requests.get(f"{server.url}/tasks", timeout=5).status_code == 200
        assert time.monotonic() - began < 1
        proxy.restore()
        replies = [step(server.url, session_id) for _ in range(2)]
        assert [reply.status_code for reply in replies] == [200, 200], replies[0].text
    finally:
        server.stop()
        proxy.close()


def test_a_row_lock_held_elsewhere_gives_503_within_the_lock_timeout(fresh_postgres_url: str) -> None:
    server = LiveServer(fresh_postgres_url, workers=1, extra_env={"DB_LOCK_TIMEOUT_MS": "500"})
    try:
        locked, free = reset(server.url), reset(server.url)
        holder = psycopg.connect(sa.make_url(fresh_postgres_url).set(drivername="postgresql")
                                 .render_as_string(hide_password=False))
        try:
            holder.execute("SELECT 1 FROM episodes WHERE session_id = %s FOR UPDATE", (locked,))
            started = time.monotonic()
            assert_unavailable(step(server.url, locked))
            assert time.monotonic() - started < 3
            assert step(server.url, free).status_code == 200  # other episodes are not held up
        finally:
            holder.rollback()
            holder.close()
        assert step(server.url, locked).status_code == 200
    finally:
        server.stop()


def test_sqlite_write_lock_held_by_another_process_gives_503_within_the_busy_limit(sqlite_url: str) -> None:
    path = sa.make_url(sqlite_url).database
    server = LiveServer(sqlite_url, workers=1, extra_env={"SQLITE_BUSY_TIMEOUT_MS": "3000"})
    try:
        session_id = reset(server.url)
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            waiting: list[requests.Response] = []
            writer = threading.Thread(target=lambda: waiting.append(step(server.url, session_id)))
            writer.start()
            time.sleep(0.5)
            # While the step waits for the lock, its worker (the only one) serves other requests.
            began = time.monotonic()
            assert requests.get(f"{server.url}/tasks", timeout=5).status_code == 200
            assert time.monotonic() - began < 1
            writer.join(timeout=30)
            assert_unavailable(waiting[0])
            assert 2.5 < time.monotonic() - started < 6
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert step(server.url, session_id).status_code == 200
    finally:
        server.stop()
