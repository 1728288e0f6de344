"""Faults against a served instance: a killed worker, a lost database, 64 racing clients.

Each test runs gunicorn on a free loopback port, drives it with many client threads and then
compares what the clients were told with what the database holds: every step that got a reply
is recorded with the same reward and action, no step index is recorded twice, and each
episode's ``step_count`` matches its steps. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import requests
import sqlalchemy as sa
import sqlalchemy.exc
from websockets.sync.client import connect

from app.errors import from_exception
from app.models import Episode, Step

from conftest import LiveServer, create_postgres_database, migrate, require_postgres
from tcp_proxy import TcpProxy

DEADLINE = 60.0  # seconds any one phase of a test may take
# How long a frozen worker holds the requests sent to it before it is killed.
IN_FLIGHT_SECONDS = 0.3
RETRYABLE = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def identify(line: int) -> dict[str, Any]:
    return {"action_type": "identify_issue", "issue": {"line_number": line, "issue_type": "syntax_error",
                                                       "severity": "low", "description": "fault test"}}


SUBMIT = {"action_type": "submit_review"}


@dataclass(frozen=True)
class Ack:
    """A step the server acknowledged: what the client was told."""

    episode_id: str
    index: int
    reward: float
    line: Optional[int]
    served_by: str = ""
    sent_at: float = 0.0


def ack_from_reply(body: dict[str, Any], action: dict[str, Any], served_by: str = "",
                   sent_at: float = 0.0) -> Ack:
    """An Ack from a ``/step`` body or a WebSocket observation frame's ``data``."""
    episode_id = body.get("episode_id") or body["metadata"]["episode_id"]
    line = action["issue"]["line_number"] if "issue" in action else None
    return Ack(episode_id, body["observation"]["step_number"], body["reward"], line, served_by, sent_at)


def assert_recorded(database_url: str, acks: list[Ack]) -> dict[str, int]:
    """Every ack is in the steps table as told; indices are unique and 1..step_count.

    Returns:
        step_count per episode.
    """
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            steps = connection.execute(sa.select(Step.episode_id, Step.index, Step.reward, Step.action)).all()
            counts = dict(connection.execute(sa.select(Episode.id, Episode.step_count)).all())
    finally:
        engine.dispose()
    twice = [key for key, seen in Counter((s.episode_id, s.index) for s in steps).items() if seen > 1]
    assert not twice, f"step indices recorded twice: {twice[:5]}"
    by_key = {(s.episode_id, s.index): s for s in steps}
    for episode_id, step_count in counts.items():
        indices = sorted(index for (key, index) in by_key if key == episode_id)
        assert indices == list(range(1, step_count + 1)), (episode_id, step_count, indices)
    assert len({(a.episode_id, a.index) for a in acks}) == len(acks), "one index acknowledged twice"
    for ack in acks:
        row = by_key.get((ack.episode_id, ack.index))
        assert row is not None, f"acknowledged step lost: {ack}"
        assert row.reward == pytest.approx(ack.reward), (ack, row.reward)
        assert row.action.get("issue", {}).get("line_number") == ack.line, (ack, row.action)
    return counts


def run_threads(targets: list[Callable[[], None]], timeout: float = DEADLINE) -> list[BaseException]:
    """Run each target in a thread; return what they raised. Fails if one outlives ``timeout``."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(target,), daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, ends - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} client threads still running after {timeout} s"
    return errors


def worker_pids(master: int) -> set[int]:
    """Live (non-zombie) children of gunicorn's master, read from /proc."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(parent) == master and state != "Z":
            children.add(int(entry.name))
    return children


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > ends:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------------- kill -9 a worker


class RetryingPlayer:
    """One client with its own HTTP session: plays whole episodes, retrying lost connections.

    A step whose reply was lost may or may not have been applied; the retry is a new step, so
    only replies count as acknowledged.
    """

    def __init__(self, url: str, name: str, episodes: int, reports: int, acks: list[Ack],
                 lock: threading.Lock, checkpoint: Optional[Callable[[], Any]] = None) -> None:
        self.url, self.name, self.episodes, self.reports = url, name, episodes, reports
        self.acks, self.lock, self.checkpoint = acks, lock, checkpoint
        self.retries = 0
        self.lost = 0  # requests whose connection broke
        self.acknowledged = 0
        self.finished = 0
        self.unavailable: list[dict[str, Any]] = []

    def post(self, http: requests.Session, path: str, payload: dict[str, Any]) -> tuple[requests.Response, bool]:
        """POST with retries on connection errors and 503; returns (response, was retried)."""
        gives_up = time.monotonic() + 20
        retried = False
        while True:
            try:
                response = http.post(self.url + path, json=payload, timeout=20)
            except RETRYABLE as exc:
                failure = repr(exc)
                self.lost += 1
            else:
                if response.status_code != 503:
                    return response, retried
                failure = response.text
                self.unavailable.append(response.json())
            if time.monotonic() > gives_up:
                raise AssertionError(f"{self.name}: {path} kept failing: {failure}")
            self.retries += 1
            retried = True
            time.sleep(0.05)

    def play(self) -> None:
        with requests.Session() as http:
            for round_number in range(self.episodes):
                episode_id = f"{self.name}-{round_number}"
                response, retried = self.post(http, "/reset", {"session_id": self.name, "episode_id": episode_id})
                # A retried reset that was applied before its reply was lost answers 409.
                assert response.status_code == 200 or (retried and response.status_code == 409), response.text
                for action in [identify(line) for line in range(1, self.reports + 1)] + [SUBMIT]:
                    sent_at = time.monotonic()
                    response, retried = self.post(http, "/step", {"session_id": self.name, "action": action})
                    if response.status_code == 409 and retried and action is SUBMIT:
                        break  # the lost submit had finished the episode
                    assert response.status_code == 200, response.text
                    ack = ack_from_reply(response.json(), action, response.headers.get("X-Served-By", ""), sent_at)
                    with self.lock:
                        self.acks.append(ack)
                        self.acknowledged += 1
                    if self.acknowledged == 2 and self.checkpoint is not None:
                        self.checkpoint()
                self.finished += 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killing_a_worker_mid_run_loses_no_acknowledged_step(backend: str, request: pytest.FixtureRequest) -> None:
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to find gunicorn's workers")
    database_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "fresh_postgres_url")
    server = LiveServer(database_url, workers=3, threads=8, extra_env={"SERVED_BY_HEADER": "1"})
    try:
        acks: list[Ack] = []
        lock = threading.Lock()
        killed: dict[str, Any] = {}

        def freeze_the_busiest_worker() -> None:
            """Run while every client is paused between two requests, before any resumes."""
            with lock:
                served = Counter(ack.served_by for ack in acks)
            victim = int(served.most_common(1)[0][0])
            assert victim in worker_pids(server.process.pid)
            os.kill(victim, signal.SIGSTOP)
            # The victim runs no code from here on (it is killed without running again): a
            # request sent later cannot be served by it, and one sent to it stays in flight.
            killed.update(pid=victim, at=time.monotonic())

        # Every client pauses inside its first episode; the victim freezes before they resume.
        inside = threading.Barrier(17, action=freeze_the_busiest_worker, timeout=DEADLINE)
        players = [RetryingPlayer(server.url, f"kill-{n}", episodes=3, reports=6, acks=acks, lock=lock,
                                  checkpoint=inside.wait) for n in range(16)]

        def killer() -> None:
            inside.wait()
            # The clients whose connections the victim holds send their next step into it.
            time.sleep(IN_FLIGHT_SECONDS)
            os.kill(killed["pid"], signal.SIGKILL)
            wait_for(lambda: killed["pid"] not in worker_pids(server.process.pid), 10, "the worker to die")

        errors = run_threads([player.play for player in players] + [killer])
        assert not errors, errors[:3]

        victim = killed["pid"]
        after = [ack for ack in acks if ack.sent_at > killed["at"]]
        assert [player.finished for player in players] == [3] * 16
        assert len(after) > len(acks) // 2, "the kill came too late to matter"
        assert sum(player.lost for player in players) > 0, "the kill cut no request in flight"
        assert str(victim) not in {ack.served_by for ack in after}
        # The master replaced the worker; the others carried the episodes on meanwhile.
        wait_for(lambda: len(worker_pids(server.process.pid)) == 3, 15, "gunicorn to replace the worker")
        counts = assert_recorded(database_url, acks)
        assert all(counts[f"kill-{n}-{r}"] >= 7 for n in range(16) for r in range(3))
    finally:
        server.stop()


# ---------------------------------------------------------------------- the database goes away


@dataclass
class Proxied:
    server: LiveServer
    proxy: TcpProxy
    direct_url: str


@pytest.fixture
def proxied_postgres() -> Iterator[Proxied]:
    """gunicorn whose Postgres connections go through a TcpProxy (libpq gives up connecting
    after 2 s, as PGCONNECT_TIMEOUT makes it in the container)."""
    require_postgres()
    direct_url, drop = create_postgres_database("croutage")
    proxy: Optional[TcpProxy] = None
    server: Optional[LiveServer] = None
    try:
        migrate(direct_url)
        target = sa.make_url(direct_url)
        proxy = TcpProxy((target.host or "127.0.0.1", target.port or 5432))
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        server = LiveServer(proxied, workers=2, threads=8, extra_env={"PGCONNECT_TIMEOUT": "2"})
        yield Proxied(server, proxy, direct_url)
    finally:
        if server is not None:
            server.stop()
        if proxy is not None:
            proxy.close()
        drop()


def test_postgres_outage_answers_503_then_recovers_without_restart(proxied_postgres: Proxied) -> None:
    server, proxy, direct_url = proxied_postgres.server, proxied_postgres.proxy, proxied_postgres.direct_url
    workers = worker_pids(server.process.pid)

    acks: list[Ack] = []
    lock = threading.Lock()
    paused = threading.Barrier(9, timeout=DEADLINE)
    players = [RetryingPlayer(server.url, f"outage-{n}", episodes=2, reports=6, acks=acks, lock=lock,
                              checkpoint=paused.wait) for n in range(8)]
    seen: dict[str, Any] = {}

    def outage() -> None:
        paused.wait()
        proxy.cut()
        with requests.Session() as http:
            seen["step"] = http.post(f"{server.url}/step", timeout=30, json={
                "session_id": "outage-0", "action": identify(40)})
            seen["health"] = http.get(f"{server.url}/health", timeout=30)
        # Keep the database away until the clients have been refused a few times each.
        wait_for(lambda: sum(len(p.unavailable) for p in players) >= 16, 30, "clients to get 503s")
        proxy.restore()
        seen["restored"] = time.monotonic()

    errors = run_threads([player.play for player in players] + [outage])
    assert not errors, errors[:3]

    for response in (seen["step"], seen["health"]):  # the one error shape, no stack trace
        assert response.status_code == 503
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "unavailable" in seen["step"].json()["error"]["message"]
    bodies = [body for player in players for body in player.unavailable]
    assert all(body["error"]["code"] == "SERVICE_UNAVAILABLE" for body in bodies), bodies[:3]
    assert proxy.refused > 0, "no connection attempt met the outage"
    # Recovered in place: the same processes serve, and every client finished its episodes.
    assert worker_pids(server.process.pid) == workers
    assert [player.finished for player in players] == [2] * 8
    assert any(ack.sent_at > seen["restored"] for ack in acks)
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
    assert_recorded(direct_url, acks)


def test_an_unanswering_postgres_host_gives_503_after_the_connect_timeout(proxied_postgres: Proxied) -> None:
    server, proxy = proxied_postgres.server, proxied_postgres.proxy
    with requests.Session() as http:
        assert http.post(f"{server.url}/reset", json={"session_id": "dark"}, timeout=30).status_code == 200
        proxy.cut(hold=True)
        started = time.monotonic()
        response = http.post(f"{server.url}/step", json={"session_id": "dark", "action": identify(1)}, timeout=60)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        waited = time.monotonic() - started
        assert waited < 15, waited  # not libpq's default of minutes
        assert proxy.refused > 0
        proxy.restore()
        wait_for(lambda: http.get(f"{server.url}/health", timeout=30).status_code == 200, 30, "recovery")
        response = http.post(f"{server.url}/step", json={"session_id": "dark", "action": identify(1)}, timeout=30)
        assert response.status_code == 200 and response.json()["observation"]["step_number"] == 1


def test_sqlite_locked_past_the_busy_timeout_answers_503_and_loses_nothing(sqlite_url: str) -> None:
    from app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "SQLITE_BUSY_TIMEOUT_MS": 200})
    client = app.test_client()
    client.post("/reset", json={"session_id": "locked", "task": "syntax_check"})
    assert client.post("/step", json={"session_id": "locked", "action": identify(1)}).status_code == 200
    # Another process holding the write lock (a backup, a long migration) for longer than the
    # busy timeout.
    holder = sqlite3.connect(sa.make_url(sqlite_url).database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        refused = client.post("/step", json={"session_id": "locked", "action": identify(2)})
        assert time.monotonic() - started < 5
        assert refused.status_code == 503
        assert refused.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert "retry" in refused.get_json()["error"]["message"]
        assert client.get("/state?session_id=locked").get_json()["step_count"] == 1  # reads go on
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    retried = client.post("/step", json={"session_id": "locked", "action": identify(2)})
    assert retried.status_code == 200 and retried.get_json()["observation"]["step_number"] == 2
    history = client.get(f"/api/episodes/{retried.get_json()['episode_id']}").get_json()
    assert [(s["index"], s["action"]["issue"]["line_number"]) for s in history["steps"]] == [(1, 1), (2, 2)]
    app.extensions["database"].dispose()


def test_an_exhausted_connection_pool_is_a_503_not_a_500() -> None:
    error = from_exception(sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"))
    assert (error.status, error.code) == (503, "SERVICE_UNAVAILABLE")


# ---------------------------------------------------------------------- 64 clients at once


class Race:
    """Shared record of the concurrent run: acknowledgements, statuses and refusals."""

    def __init__(self, clients: int) -> None:
        self.start = threading.Barrier(clients, timeout=DEADLINE)
        self.lock = threading.Lock()
        self.acks: list[Ack] = []
        self.solo: Counter = Counter()
        self.conflicts: list[dict[str, Any]] = []

    def acknowledge(self, ack: Ack) -> None:
        with self.lock:
            self.acks.append(ack)


class Pair:
    """Two clients stepping one episode, in rounds that start together."""

    def __init__(self, session_id: str, rounds: int) -> None:
        self.session_id, self.rounds = session_id, rounds
        self.barrier = threading.Barrier(2, timeout=DEADLINE)
        self.wins = [0] * rounds  # successful steps per round
        self.lock = threading.Lock()

    def won(self, round_number: int) -> None:
        with self.lock:
            self.wins[round_number] += 1


class HttpClient:
    def __init__(self, url: str, race: Race) -> None:
        self.url, self.race = url, race

    def solo(self, session_id: str) -> None:
        with requests.Session() as http:
            self.race.start.wait()
            reset = http.post(f"{self.url}/reset", json={"session_id": session_id, "episode_id": session_id},
                              timeout=30)
            assert reset.status_code == 200, reset.text
            for action in [identify(line) for line in range(1, 7)] + [SUBMIT]:
                response = http.post(f"{self.url}/step", json={"session_id": session_id, "action": action},
                                     timeout=30)
                with self.race.lock:
                    self.race.solo[response.status_code] += 1
                assert response.status_code == 200, response.text
                self.race.acknowledge(ack_from_reply(response.json(), action))

    def racer(self, pair: Pair, first_line: int) -> None:
        with requests.Session() as http:
            self.race.start.wait()
            for round_number in range(pair.rounds):
                action = identify(first_line + 2 * round_number)
                pair.barrier.wait()
                response = http.post(f"{self.url}/step", json={"session_id": pair.session_id, "action": action},
                                     timeout=30)
                if response.status_code == 409:
                    with self.race.lock:
                        self.race.conflicts.append(response.json()["error"])
                    continue
                assert response.status_code == 200, response.text
                pair.won(round_number)
                self.race.acknowledge(ack_from_reply(response.json(), action))
            pair.barrier.wait()  # both are done


class SocketClient:
    def __init__(self, ws_url: str, race: Race) -> None:
        self.ws_url, self.race = ws_url, race

    @staticmethod
    def exchange(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
        ws.send(json.dumps(frame))
        return json.loads(ws.recv(timeout=30))

    def solo(self, episode_id: str) -> None:
        with connect(self.ws_url, open_timeout=30) as ws:
            self.race.start.wait()
            reply = self.exchange(ws, {"type": "reset", "data": {"episode_id": episode_id}})
            assert reply["type"] == "observation", reply
            for action in [identify(line) for line in range(1, 7)] + [SUBMIT]:
                reply = self.exchange(ws, {"type": "step", "data": action})
                with self.race.lock:
                    self.race.solo[reply.get("data", {}).get("status", 200)] += 1
                assert reply["type"] == "observation", reply
                self.race.acknowledge(ack_from_reply(reply["data"], action))
            ws.send(json.dumps({"type": "close"}))

    def racer(self, pair: Pair, first_line: int) -> None:
        """Opens the pair's session over the socket, then races an HTTP client on it."""
        with connect(self.ws_url, open_timeout=30) as ws:
            reply = self.exchange(ws, {"type": "reset", "data": {"session_id": pair.session_id,
                                                                 "episode_id": pair.session_id}})
            assert reply["type"] == "observation", reply
            self.race.start.wait()
            for round_number in range(pair.rounds):
                action = identify(first_line + 2 * round_number)
                pair.barrier.wait()
                reply = self.exchange(ws, {"type": "step", "data": action})
                if reply["type"] == "error":
                    with self.race.lock:
                        self.race.conflicts.append(reply["data"])
                    continue
                assert reply["type"] == "observation", reply
                pair.won(round_number)
                self.race.acknowledge(ack_from_reply(reply["data"], action))
            pair.barrier.wait()  # closing the session abandons its episode: only once both are done
            ws.send(json.dumps({"type": "close"}))


def test_64_concurrent_clients_with_racing_pairs_lose_and_duplicate_nothing(database_url: str) -> None:
    server = LiveServer(database_url, workers=2, threads=24)
    try:
        race = Race(clients=64)
        http, sockets = HttpClient(server.url, race), SocketClient(server.ws_url, race)
        http_pairs = [Pair(f"pair-http-{n}", rounds=6) for n in range(8)]
        mixed_pairs = [Pair(f"pair-mixed-{n}", rounds=6) for n in range(6)]
        for pair in http_pairs:
            reset = requests.post(f"{server.url}/reset", timeout=30,
                                  json={"session_id": pair.session_id, "episode_id": pair.session_id})
            assert reset.status_code == 200
        clients: list[Callable[[], None]] = []
        clients += [lambda n=n: http.solo(f"solo-http-{n}") for n in range(24)]
        clients += [lambda n=n: sockets.solo(f"solo-ws-{n}") for n in range(12)]
        for pair in http_pairs:
            clients += [lambda p=pair: http.racer(p, 1), lambda p=pair: http.racer(p, 2)]
        for pair in mixed_pairs:
            clients += [lambda p=pair: sockets.racer(p, 1), lambda p=pair: http.racer(p, 2)]
        assert len(clients) == 64

        errors = run_threads(clients)
        assert not errors, errors[:3]

        assert race.solo == Counter({200: 36 * 7}), race.solo  # nobody else touches a solo episode
        # Steps sent at once without expected_step are all applied, one after the other (the
        # step path's contract): every round of every pair has both its steps.
        for pair in http_pairs + mixed_pairs:
            assert all(wins == 2 for wins in pair.wins), (pair.session_id, pair.wins)
        assert not race.conflicts, race.conflicts[:3]

        counts = assert_recorded(database_url, race.acks)
        engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                totals = dict(connection.execute(sa.select(Episode.id, Episode.cumulative_reward)).all())
        finally:
            engine.dispose()
        for pair in http_pairs + mixed_pairs:
            mine = [ack for ack in race.acks if ack.episode_id == pair.session_id]
            # No lost update: the episode holds exactly the winners' steps and their rewards.
            assert counts[pair.session_id] == sum(pair.wins) == len(mine)
            assert totals[pair.session_id] == pytest.approx(sum(ack.reward for ack in mine))
    finally:
        server.stop()


LOST_REPLY_MARKER = "the reply to this step is lost"


@pytest.mark.parametrize(("lost", "action"), [
    # A step is one statement, alone in its batch here, so it runs in autocommit: the
    # statement's reply is lost.
    (LOST_REPLY_MARKER.encode(), {**identify(2), "issue": {**identify(2)["issue"], "description": LOST_REPLY_MARKER}}),
    # The episode's last step also writes its issue rows, in the same statement (its text is
    # sent with its first execution).
    (b"INSERT INTO episode_issues", SUBMIT),
], ids=["step", "last step"])
def test_a_step_whose_commit_reply_is_lost_is_not_called_a_lost_race(
    proxied_postgres: Proxied, lost: bytes, action: dict[str, Any]
) -> None:
    server, proxy = proxied_postgres.server, proxied_postgres.proxy
    with requests.Session() as http:
        assert http.post(f"{server.url}/reset", json={"session_id": "unsure"}, timeout=30).status_code == 200
        assert http.post(f"{server.url}/step", json={"session_id": "unsure", "action": identify(1)},
                         timeout=30).status_code == 200
        # Postgres commits the step, but its answer never reaches the service.
        proxy.lose_reply_to(lost)
        response = http.post(f"{server.url}/step", json={"session_id": "unsure", "action": action}, timeout=30)
        state = http.get(f"{server.url}/state", params={"session_id": "unsure"}, timeout=30).json()
    assert state["step_count"] == 2  # it was recorded ...
    # ... but the service cannot know that: not a lost race (409), and not a retry that applies
    # the action twice; a 503 telling the client to check first.
    assert response.status_code == 503, response.text
    assert "check before retrying" in response.json()["error"]["message"]


def test_a_reset_whose_commit_reply_is_lost_is_reported_as_unknown(proxied_postgres: Proxied) -> None:
    server, proxy = proxied_postgres.server, proxied_postgres.proxy
    with requests.Session() as http:
        # A requested episode id is checked before the insert: a transaction, whose COMMIT's
        # reply is lost.
        proxy.lose_reply_to(b"COMMIT")
        response = http.post(f"{server.url}/reset", json={"session_id": "unsure", "episode_id": "chosen"}, timeout=30)
        state = http.get(f"{server.url}/state", params={"session_id": "unsure"}, timeout=30).json()
    assert state["episode_id"] == "chosen"  # it was recorded, but the service cannot know that
    assert response.status_code == 503, response.text
    assert "check before retrying" in response.json()["error"]["message"]
