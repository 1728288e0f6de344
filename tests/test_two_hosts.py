"""Two instances of the service behind HAProxy (``docs/haproxy.cfg``, as shipped), sharing one
Postgres: one instance is killed while clients play, and every episode finishes through the
other with nothing acknowledged lost and nothing applied twice.

Each step carries its ``expected_step``, so a client whose request died with the instance resends
it safely: the step is applied once, or its stored reply comes back."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from app.devserver import free_port, stop_process, wait_until_healthy

from conftest import ROOT, LiveServer
from test_faults import SUBMIT, Ack, ack_from_reply, assert_recorded, identify, wait_for, worker_pids

CLIENTS = 8
EPISODES = 3
REPORTS = 8
RETRYABLE_STATUS = {502, 503, 504}


def haproxy_binary() -> str:
    path = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("HAProxy is not installed (.ci/run installs Debian's haproxy)")
        pytest.skip("needs HAProxy (apt install haproxy)")
    return path


class Balancer:
    """HAProxy on a free loopback port with docs/haproxy.cfg, in front of ``services``."""

    def __init__(self, services: list[LiveServer]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, FRONT=f"127.0.0.1:{self.port}", SERVICE_A=f"127.0.0.1:{services[0].port}",
                   SERVICE_B=f"127.0.0.1:{services[1].port}")
        self.process = subprocess.Popen([haproxy_binary(), "-db", "-f", str(ROOT / "docs" / "haproxy.cfg")],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until_healthy(self.url, self.process, 20, "haproxy",
                               lambda: self.process.stderr.read().decode())  # type: ignore[union-attr]
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()


def kill_instance(server: LiveServer) -> None:
    """SIGKILL an instance's gunicorn master and workers at once: a host that died."""
    for pid in worker_pids(server.process.pid) | {server.process.pid}:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(timeout=10)


class Player:
    """Plays whole episodes through the balancer; resends a request that failed, with the
    same ``expected_step`` (a reset with the same ids: 409 means the first one was applied)."""

    def __init__(self, url: str, name: str, acks: list[Ack], lock: threading.Lock) -> None:
        self.url, self.name, self.acks, self.lock = url, name, acks, lock
        self.retries = 0
        self.finished = 0

    def send(self, http: requests.Session, path: str, body: dict[str, Any]) -> requests.Response:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = http.post(self.url + path, json=body, timeout=30)
                if response.status_code not in RETRYABLE_STATUS:
                    return response
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                http.close()  # a fresh connection, maybe to the other instance
            self.retries += 1
            assert time.monotonic() < deadline, f"{self.name}: {path} kept failing"
            time.sleep(0.05)

    def play(self) -> None:
        with requests.Session() as http:
            for episode in range(EPISODES):
                session_id = f"{self.name}-{episode}"
                reset = self.send(http, "/reset", {"task": "syntax_check", "session_id": session_id,
                                                   "episode_id": session_id})
                assert reset.status_code in (200, 409), reset.text  # 409: applied before its reply was lost
                for index, action in enumerate([identify(line) for line in range(1, REPORTS + 1)] + [SUBMIT], 1):
                    reply = self.send(http, "/step", {"session_id": session_id, "action": action,
                                                      "expected_step": index})
                    assert reply.status_code == 200, reply.text
                    body = reply.json()
                    assert body["observation"]["step_number"] == index
                    with self.lock:
                        self.acks.append(ack_from_reply(body, action))
                    if body["done"]:
                        break
                self.finished += 1


def test_two_instances_behind_haproxy_lose_nothing_when_one_dies(fresh_postgres_url: str) -> None:
    haproxy_binary()
    instances = [LiveServer(fresh_postgres_url, workers=1) for _ in range(2)]
    balancer = None
    try:
        balancer = Balancer(instances)
        acks: list[Ack] = []
        lock = threading.Lock()
        players = [Player(balancer.url, f"host-{n}", acks, lock) for n in range(CLIENTS)]
        errors: list[BaseException] = []

        def guarded(target: Any) -> Any:
            def run() -> None:
                try:
                    target()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
            return run

        threads = [threading.Thread(target=guarded(player.play), daemon=True) for player in players]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acks) >= CLIENTS * 6, 60, "clients to be under way")
        kill_instance(instances[0])
        killed_at = len(acks)
        for thread in threads:
            thread.join(timeout=120)
        assert not [thread for thread in threads if thread.is_alive()], "a client is still running"
        assert not errors, errors[:3]

        assert [player.finished for player in players] == [EPISODES] * CLIENTS
        assert len(acks) > killed_at, "nothing was served after the kill"
        assert sum(player.retries for player in players) > 0, "no request met the dead instance"
        counts = assert_recorded(fresh_postgres_url, acks)  # nothing acknowledged lost or stored twice
        assert len(counts) == CLIENTS * EPISODES
        assert sorted(counts.values()) == [REPORTS + 1] * (CLIENTS * EPISODES)  # every step applied once
    finally:
        if balancer is not None:
            balancer.stop()
        for instance in instances:
            instance.stop()
