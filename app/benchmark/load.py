"""Closed-loop load for ``codereview bench server``.

Each client resets an episode with a seed never used before in this process (as a trainer
does, so that every reset pays for its episode's generation on either server, whose caches of
recent episodes never serve it), steps it until ``done`` with a fixed script of actions, and
starts again, for a bounded time. Clients are asyncio tasks in one process (cheap next to the
server on a small machine); HTTP runs over one keep-alive connection per client, WebSocket over
one socket per client. The same script drives this service and the OpenEnv anchor; only the way an episode
is addressed differs (``session_id`` here, ``episode_id`` on OpenEnv's stateless HTTP).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from websockets.asyncio.client import connect

TASK = "syntax_check"
REPORTS_PER_EPISODE = 9
# A reply slower than this counts as an error (and ends that client), so a run always stops.
REPLY_TIMEOUT = 30.0
# Seeds: each run starts at a new multiple of RUN_SEEDS, each client at a multiple of CLIENT_SEEDS in it.
CLIENT_SEEDS = 1_000_000
MAX_CLIENTS = 8_192
RUN_SEEDS = MAX_CLIENTS * CLIENT_SEEDS
_runs = itertools.count(1)


def episode_script() -> list[dict[str, Any]]:
    """The actions of one episode: reports on consecutive lines, then a submit."""
    reports = [{
        "action_type": "identify_issue", "confidence": 0.5,
        "issue": {"line_number": line, "issue_type": "syntax_error", "severity": "high",
                  "description": "bench report", "suggested_fix": "fix it"},
    } for line in range(1, REPORTS_PER_EPISODE + 1)]
    return reports + [{"action_type": "submit_review"}]


@dataclass
class LoadResult:
    """What one configuration measured."""

    steps: int = 0
    episodes: int = 0
    errors: int = 0
    seconds: float = 0.0
    # Seconds from sending a request to having its reply decoded: every step's, and apart from
    # them each reset's and each last step's (the one that ends its episode, also in ``latencies``).
    latencies: list[float] = field(default_factory=list)
    reset_latencies: list[float] = field(default_factory=list)
    last_step_latencies: list[float] = field(default_factory=list)
    first_error: Optional[str] = None

    @property
    def steps_per_second(self) -> float:
        """Step replies per second of wall time."""
        return self.steps / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float, latencies: Optional[list[float]] = None) -> float:
        """Latency at ``fraction`` (nearest rank) of ``latencies`` (default: the steps'), in milliseconds."""
        values = self.latencies if latencies is None else latencies
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))] * 1000

    def error(self, message: str) -> None:
        """Count an error, keeping the first message."""
        self.errors += 1
        self.first_error = self.first_error or message


class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client for JSON POSTs (the load must cost the machine little)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST ``body`` as JSON; returns the status and the decoded reply."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode()
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        assert self.reader is not None
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), REPLY_TIMEOUT)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, json.loads(data) if data else {}

    async def close(self) -> None:
        """Close the connection (a later post reconnects)."""
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


async def _http_client(base_url: str, anchor: bool, result: LoadResult, deadline: float, seed: int) -> None:
    connection = HttpConnection(base_url)
    script = episode_script()
    try:
        while time.monotonic() < deadline:
            seed += 1
            episode_id = str(uuid.uuid4())
            reset = {"seed": seed, "episode_id": episode_id} if anchor else {"task": TASK, "seed": seed}
            started = time.perf_counter()
            status, reply = await connection.post("/reset", reset)
            if status != 200:
                result.error(f"reset {status}: {reply}")
                continue
            result.reset_latencies.append(time.perf_counter() - started)
            address = {"episode_id": episode_id} if anchor else {"session_id": reply["session_id"]}
            for action in script:
                started = time.perf_counter()
                status, reply = await connection.post("/step", {"action": action, **address})
                if status != 200:
                    result.error(f"step {status}: {reply}")
                    break
                result.latencies.append(time.perf_counter() - started)
                result.steps += 1
                if reply.get("done"):
                    result.last_step_latencies.append(result.latencies[-1])
                    result.episodes += 1
                    break
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
        result.error(f"http client: {exc!r}")
    finally:
        await connection.close()


async def _ws_client(ws_url: str, result: LoadResult, deadline: float, seed: int) -> None:
    script = episode_script()
    try:
        async with connect(ws_url, max_size=2**22, compression=None) as socket:
            while time.monotonic() < deadline:
                seed += 1
                started = time.perf_counter()
                await socket.send(json.dumps({"type": "reset", "data": {"task": TASK, "seed": seed}}))
                reply = json.loads(await asyncio.wait_for(socket.recv(), REPLY_TIMEOUT))
                if reply.get("type") != "observation":
                    result.error(f"reset: {reply}")
                    continue
                result.reset_latencies.append(time.perf_counter() - started)
                for action in script:
                    started = time.perf_counter()
                    await socket.send(json.dumps({"type": "step", "data": action}))
                    reply = json.loads(await asyncio.wait_for(socket.recv(), REPLY_TIMEOUT))
                    if reply.get("type") != "observation":
                        result.error(f"step: {reply}")
                        break
                    result.latencies.append(time.perf_counter() - started)
                    result.steps += 1
                    if reply["data"].get("done"):
                        result.last_step_latencies.append(result.latencies[-1])
                        result.episodes += 1
                        break
            await socket.send(json.dumps({"type": "close"}))
    except Exception as exc:  # noqa: BLE001 - a broken client is an error to report, not a crash
        result.error(f"ws client: {exc!r}")


@dataclass
class HoldResult:
    """What holding many sessions open at once measured."""

    sessions: int
    served: int = 0  # sessions that had their reset and their step answered, all open at once
    refused: int = 0  # sessions answered with an error frame (CAPACITY_REACHED, ...)
    failed: int = 0  # sessions whose connection failed or timed out
    seconds: float = 0.0  # from the first connection to the last session served
    rss_before_mib: float = 0.0  # the server's resident memory before and with every session open
    rss_held_mib: float = 0.0
    first_error: Optional[str] = None

    @property
    def kib_per_session(self) -> float:
        """The server's resident memory per open session (served ones), in KiB."""
        if not self.served or not self.rss_held_mib:  # not read: not every session was served in time
            return float("nan")
        return (self.rss_held_mib - self.rss_before_mib) * 1024 / self.served


async def _hold(ws_url: str, count: int, timeout: float, first_seed: int,
                rss: Callable[[], float]) -> HoldResult:
    result = HoldResult(sessions=count, rss_before_mib=rss())
    every_served = asyncio.Event()
    release = asyncio.Event()
    outstanding = count
    started = time.monotonic()

    def settled() -> None:
        nonlocal outstanding
        outstanding -= 1
        if outstanding == 0:
            result.seconds = time.monotonic() - started
            every_served.set()

    async def session(index: int) -> None:
        try:
            async with connect(ws_url, max_size=2**22, compression=None, open_timeout=timeout) as socket:
                replies = []
                for message in ({"type": "reset", "data": {"task": TASK, "seed": first_seed + index}},
                                {"type": "step", "data": episode_script()[0]}):
                    await socket.send(json.dumps(message))
                    replies.append(json.loads(await asyncio.wait_for(socket.recv(), timeout)))
                if all(reply.get("type") == "observation" for reply in replies):
                    result.served += 1
                else:
                    result.refused += 1
                    result.first_error = result.first_error or str(replies[-1])[:300]
                settled()
                await release.wait()  # every session stays open until all are counted
        except Exception as exc:  # noqa: BLE001 - a failed session is a figure, not a crash
            if not release.is_set():
                result.failed += 1
                result.first_error = result.first_error or repr(exc)[:300]
                settled()

    tasks = [asyncio.ensure_future(session(index)) for index in range(count)]
    try:
        await asyncio.wait_for(every_served.wait(), timeout)
        await asyncio.sleep(0.5)  # let the server settle before reading its memory
        result.rss_held_mib = rss()
    except asyncio.TimeoutError:
        result.seconds = time.monotonic() - started
        result.first_error = result.first_error or f"{outstanding} sessions unsettled after {timeout:g} s"
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=timeout + 60)
    return result


def hold_sessions(base_url: str, count: int, timeout: float, rss: Callable[[], float],
                  first_seed: Optional[int] = None) -> HoldResult:
    """Open ``count`` WebSocket sessions at once, each a reset and a step, and keep every one
    open until all are answered (or ``timeout`` seconds pass); ``rss()`` reads the server's
    resident memory (MiB) before and with them all open. Then close them."""
    seeds = fresh_seeds() if first_seed is None else first_seed
    ws_url = base_url.replace("http://", "ws://", 1) + "/ws"
    return asyncio.run(_hold(ws_url, count, timeout, seeds, rss))


def fresh_seeds() -> int:
    """The first seed of a run that no other run of this process gets (its clients then start
    ``CLIENT_SEEDS`` apart)."""
    return next(_runs) * RUN_SEEDS


async def _run(base_url: str, transport: str, clients: int, seconds: float, anchor: bool,
               first_seed: int) -> LoadResult:
    result = LoadResult()
    started = time.monotonic()
    deadline = started + seconds
    ws_url = base_url.replace("http://", "ws://", 1) + "/ws"
    tasks = [
        _ws_client(ws_url, result, deadline, seed=first_seed + index * CLIENT_SEEDS) if transport == "ws"
        else _http_client(base_url, anchor, result, deadline, seed=first_seed + index * CLIENT_SEEDS)
        for index in range(clients)
    ]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 60)
    result.seconds = time.monotonic() - started
    return result


def run_load(base_url: str, transport: str, clients: int, seconds: float, anchor: bool = False,
             first_seed: Optional[int] = None) -> LoadResult:
    """Drive ``clients`` closed-loop clients over ``transport`` (``ws`` or ``http``) for ``seconds``,
    with seeds from ``first_seed`` (default :func:`fresh_seeds`; pass the same to two servers to
    give both the same episodes)."""
    seeds = fresh_seeds() if first_seed is None else first_seed
    return asyncio.run(_run(base_url, transport, clients, seconds, anchor, seeds))


def median(values: list[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")
