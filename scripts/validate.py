"""Pre-submission validation: checks a running deployment end to end.

Usage::

    python scripts/validate.py                              # starts its own server, then checks it
    python scripts/validate.py --url https://user-code-reviewer-env.hf.space

Without ``--url`` it migrates a temporary SQLite database, starts gunicorn on a free loopback
port, checks it and stops it. Prints one line per check, ``PASS <name>`` or
``FAIL <name>: <reason>``, then ``<N> passed, <M> failed``; the exit status is 1 when any
check failed. Needs the test extras (``make install``): requests, websockets, openenv.

The checks follow the original checklist:

- ``health``, then every endpoint (``GET /``, ``/tasks``, ``/metadata``, ``/schema``,
  ``/openapi.json``, ``POST /reset``, ``/step``, ``GET /state``, ``/result``, ``POST /mcp``
  tools/list, ``GET /api/episodes/<id>``) and ``openenv validate --url``;
- a WebSocket episode in each envelope (OpenEnv ``type`` frames, original ``action`` frames);
- each task: a reset serves it as ``/tasks`` describes it, and submitting at once scores 0;
- reward ranges: per task, a hint, the five lines the hint names, a repeat and a submit; every
  step reward outside the final bonuses lies in [-0.15, 0.5], the bonuses within their caps,
  the breakdown adds up, completion_score lies in [0, 1];
- the inference log format: ``scripts/inference.py`` is *run* against the deployment with a
  stub model served here (an invalid reply, a report, a hint, a submit), and its stdout is
  matched line by line against the required format. Running it checks what the script
  prints, which a static look at its format strings cannot;
- the README sections, ``openenv.yaml`` (``openenv validate --level static``) and the
  Dockerfile (present, ``EXPOSE 7860``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.devserver import LocalServer  # noqa: E402

OPENENV_CLI = Path(sys.executable).parent / "openenv"
TIMEOUT = 15.0

FALSE_POSITIVE, HINT_PENALTY, MAX_FIND = -0.15, -0.05, 0.5
FIND_REWARDS = (0.2, 0.3, 0.4, 0.5)
COMPLETENESS_CAP, EFFICIENCY_PER_STEP = 0.5, 0.02
HINT_WINDOW = re.compile(r"(?P<type>[a-z_]+) between lines (?P<start>\d+) and (?P<end>\d+)")

# The original environment's log format.
START_LINE = re.compile(r"\[START\] task=\S+ env=code-reviewer-env model=\S+")
STEP_LINE = re.compile(
    r"\[STEP\] step=(?P<step>\d+) action=(?:identify_issue\(line=\d+,type=[a-z_]+\)|request_hint"
    r"|submit_review) reward=(?P<reward>-?\d+\.\d\d) done=(?:true|false) error=(?P<error>\S+)")
END_LINE = re.compile(r"\[END\] success=(?:true|false) steps=(?P<steps>\d+) "
                      r"rewards=(?P<rewards>(?:-?\d+\.\d\d(?:,-?\d+\.\d\d)*)?)")

README_SECTIONS = ("## The two commands", "## Tasks", "## Reward contract", "## HTTP API",
                   "### WebSocket `/ws`", "## Baseline inference", "## Pre-submission validation")


class CheckFailed(Exception):
    """A check's expectation did not hold."""


def expect(condition: Any, reason: str) -> None:
    if not condition:
        raise CheckFailed(reason)


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:200] if lines else ""


def close_to(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6


class Deployment:
    """HTTP and WebSocket access to the server under test."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.ws_url = re.sub(r"^http", "ws", self.url) + "/ws"
        self.http = requests.Session()
        self.tasks: list[dict[str, Any]] = []

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self.http.get(self.url + path, params=params, timeout=TIMEOUT), f"GET {path}")

    def post(self, path: str, body: Any) -> Any:
        return self._json(self.http.post(self.url + path, json=body, timeout=TIMEOUT), f"POST {path}")

    @staticmethod
    def _json(response: requests.Response, what: str) -> Any:
        expect(response.status_code == 200, f"{what} answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise CheckFailed(f"{what} did not answer JSON") from None

    def reset(self, task: str, **extra: Any) -> dict[str, Any]:
        return self.post("/reset", {"task": task, "session_id": f"validate-{uuid.uuid4().hex[:12]}", **extra})

    def step(self, session_id: str, action: dict[str, Any]) -> dict[str, Any]:
        return self.post("/step", {"session_id": session_id, "action": action})

    def task_names(self) -> list[str]:
        if not self.tasks:
            self.tasks = self.get("/tasks")["tasks"]
        return [task["name"] for task in self.tasks]


def identify(line: int, issue_type: str) -> dict[str, Any]:
    return {"action_type": "identify_issue", "issue": {
        "line_number": line, "issue_type": issue_type, "severity": "medium", "description": "validation probe"}}


SUBMIT = {"action_type": "submit_review"}
HINT = {"action_type": "request_hint"}


# ---------------------------------------------------------------------- endpoints


def check_health(d: Deployment) -> None:
    body = d.get("/health")
    expect(body.get("status") == "healthy", f"status is {body.get('status')!r}")


def check_home(d: Deployment) -> None:
    response = d.http.get(d.url + "/", timeout=TIMEOUT)
    expect(response.status_code == 200, f"HTTP {response.status_code}")
    expect("html" in response.headers.get("Content-Type", ""), "not an HTML page")


def check_tasks(d: Deployment) -> None:
    names = d.task_names()
    expect(names, "no task")
    for task in d.tasks:
        for key in ("difficulty", "expected_issue_count", "max_steps", "success_threshold"):
            expect(key in task, f"task {task.get('name')!r} lacks {key}")


def check_metadata(d: Deployment) -> None:
    body = d.get("/metadata")
    expect(isinstance(body.get("name"), str) and isinstance(body.get("description"), str),
           "name and description must be strings")


def check_schema(d: Deployment) -> None:
    body = d.get("/schema")
    for key in ("action", "observation", "state"):
        expect(isinstance(body.get(key), dict), f"{key} schema missing")


def check_openapi(d: Deployment) -> None:
    body = d.get("/openapi.json")
    expect(str(body.get("openapi", "")).startswith("3."), "not an OpenAPI 3 document")
    expect(isinstance(body.get("info", {}).get("version"), str), "info.version missing")
    missing = {"/reset", "/step", "/state", "/health"} - set(body.get("paths", {}))
    expect(not missing, f"paths missing: {sorted(missing)}")


class HttpEpisode:
    """The REST checks share one episode: reset, one step, then its state, result and record."""

    def __init__(self) -> None:
        self.session_id: Optional[str] = None
        self.episode_id: Optional[str] = None

    def reset(self, d: Deployment) -> None:
        body = d.reset("syntax_check")
        expect(body.get("reward") is None and body.get("done") is False, "a fresh episode has reward null, done false")
        expect(body.get("observation", {}).get("code_snippet", {}).get("code"), "no code in the observation")
        self.session_id, self.episode_id = body.get("session_id"), body.get("episode_id")
        expect(self.session_id and self.episode_id, "session_id / episode_id missing")

    def step(self, d: Deployment) -> None:
        expect(self.session_id, "no episode (POST /reset failed)")
        body = d.step(self.session_id, identify(1, "syntax_error"))
        expect(isinstance(body.get("reward"), (int, float)), "reward is not a number")
        expect(body.get("done") is False, "one report ended the episode")
        expect("reward_breakdown" in body.get("metadata", {}), "metadata.reward_breakdown missing")

    def state(self, d: Deployment) -> None:
        expect(self.session_id, "no episode (POST /reset failed)")
        body = d.get("/state", session_id=self.session_id)
        expect(body.get("episode_id") == self.episode_id, "state names another episode")
        expect(body.get("step_count") == 1, f"step_count is {body.get('step_count')!r}, expected 1")

    def result(self, d: Deployment) -> None:
        expect(self.session_id, "no episode (POST /reset failed)")
        body = d.get("/result", session_id=self.session_id)
        expect(0.0 <= body.get("completion_score", -1) <= 1.0, "completion_score outside [0, 1]")

    def record(self, d: Deployment) -> None:
        expect(self.episode_id, "no episode (POST /reset failed)")
        body = d.get(f"/api/episodes/{self.episode_id}")
        steps = body.get("steps", [])
        expect(len(steps) == 1, f"{len(steps)} recorded steps, expected 1")
        expect(steps[0].get("action", {}).get("issue", {}).get("line_number") == 1, "the recorded action differs")


def check_mcp(d: Deployment) -> None:
    body = d.post("/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
    names = {tool.get("name") for tool in body.get("result", {}).get("tools", [])}
    expect({"identify_issue", "submit_review"} <= names, f"tools/list lacks the review tools: {sorted(names)}")


def run_openenv(*args: str) -> None:
    expect(OPENENV_CLI.exists(), f"{OPENENV_CLI} not found (install the test extras)")
    result = subprocess.run([str(OPENENV_CLI), "validate", *args], capture_output=True, text=True, timeout=180)
    expect(result.returncode == 0,
           f"exit {result.returncode}: {last_line(result.stdout)} {last_line(result.stderr)}".strip())


def check_openenv_url(d: Deployment) -> None:
    run_openenv("--url", d.url)


# ---------------------------------------------------------------------- WebSocket


def exchange(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps(frame))
    reply = json.loads(ws.recv(timeout=TIMEOUT))
    expect(reply.get("type") != "error", f"error frame: {reply.get('data')}")
    return reply


def check_ws_openenv(d: Deployment) -> None:
    episode_id = f"validate-ws-{uuid.uuid4().hex[:12]}"
    with connect(d.ws_url, open_timeout=TIMEOUT) as ws:
        reset = exchange(ws, {"type": "reset", "data": {"task": "syntax_check", "seed": 7, "episode_id": episode_id}})
        expect(reset["type"] == "observation" and reset["data"].get("reward") is None, "bad reset reply")
        step = exchange(ws, {"type": "step", "data": {**identify(1, "syntax_error"), "metadata": {}}})
        expect(step["type"] == "observation" and isinstance(step["data"].get("reward"), (int, float)), "bad step reply")
        state = exchange(ws, {"type": "state"})
        expect(state["type"] == "state" and state["data"].get("episode_id") == episode_id
               and state["data"].get("step_count") == 1, f"bad state reply: {state['data']}")
        final = exchange(ws, {"type": "step", "data": {**SUBMIT, "metadata": {}}})
        expect(final["data"].get("done") is True, "submit did not end the episode")
        ws.send(json.dumps({"type": "close"}))
        try:
            extra = ws.recv(timeout=TIMEOUT)
        except ConnectionClosed:
            extra = None
        expect(extra is None, "the server answered a close frame")


def check_ws_original(d: Deployment) -> None:
    with connect(d.ws_url, open_timeout=TIMEOUT) as ws:
        reset = exchange(ws, {"action": "reset", "task": "syntax_check"})
        expect(reset["data"].get("session_id") and reset["data"].get("observation"), "bad reset reply")
        step = exchange(ws, {"action": "step", "data": identify(1, "syntax_error")})
        expect(isinstance(step["data"].get("reward"), (int, float)), "bad step reply")
        state = exchange(ws, {"action": "state"})
        expect(state["type"] == "state" and state["data"].get("step_count") == 1, "bad state reply")
        result = exchange(ws, {"action": "get_result"})
        expect(result["type"] == "result" and "completion_score" in result["data"], "bad get_result reply")


# ---------------------------------------------------------------------- tasks and rewards


def check_task(d: Deployment, name: str) -> None:
    spec = next(task for task in d.tasks if task["name"] == name)
    body = d.reset(name)
    observation = body["observation"]
    expect(observation.get("task_name") == name, f"reset served {observation.get('task_name')!r}")
    expect(observation.get("max_steps") == spec["max_steps"], "max_steps differs from /tasks")
    expect(observation.get("info", {}).get("expected_issue_count") == spec["expected_issue_count"],
           "expected_issue_count differs from /tasks")
    final = d.step(body["session_id"], SUBMIT)
    expect(final["done"] is True, "submit did not end the episode")
    expect(close_to(final["reward"], 0.0), f"an empty review earned {final['reward']}")
    result = d.get("/result", session_id=body["session_id"])
    expect(close_to(result["completion_score"], 0.0) and result["success"] is False,
           f"an empty review scored {result['completion_score']}")


def check_step_reward(number: int, body: dict[str, Any], max_steps: int) -> None:
    reward = body["reward"]
    breakdown = body.get("metadata", {}).get("reward_breakdown", {})
    expect(close_to(sum(breakdown.values()), reward), f"step {number}: breakdown {breakdown} does not add up to {reward}")
    completeness = breakdown.get("completeness_bonus", 0.0)
    efficiency = breakdown.get("efficiency_bonus", 0.0)
    expect(0.0 <= completeness <= COMPLETENESS_CAP, f"step {number}: completeness bonus {completeness}")
    expect(0.0 <= efficiency <= EFFICIENCY_PER_STEP * max_steps + 1e-9, f"step {number}: efficiency bonus {efficiency}")
    base = reward - completeness - efficiency
    expect(FALSE_POSITIVE - 1e-9 <= base <= MAX_FIND + 1e-9, f"step {number}: reward {reward} outside [-0.15, 0.5]")


def check_reward_ranges(d: Deployment) -> None:
    expect(d.task_names(), "no task to play")
    for spec in d.tasks:
        probe_rewards(d, spec)


def probe_rewards(d: Deployment, spec: dict[str, Any]) -> None:
    """A hint, a report on each line of the hinted window, a repeat, a submit; every reward checked."""
    name = spec["name"]
    session_id = d.reset(name)["session_id"]
    rewards: list[float] = []

    def play(action: dict[str, Any]) -> dict[str, Any]:
        reply = d.step(session_id, action)
        rewards.append(reply["reward"])
        check_step_reward(len(rewards), reply, spec["max_steps"])
        return reply

    hint = play(HINT)
    expect(close_to(hint["reward"], HINT_PENALTY), f"{name}: a hint earned {hint['reward']}")
    window = HINT_WINDOW.search(hint["observation"].get("hint_text") or "")
    expect(window, f"{name}: the hint names no category and line window")
    # The hint's category, not the task's: a task may plant several categories.
    category, found_line = window["type"], None
    for line in range(int(window["start"]), int(window["end"]) + 1):
        reply = play(identify(line, category))
        expect(any(close_to(reply["reward"], r) for r in (FALSE_POSITIVE, *FIND_REWARDS)),
               f"{name}: a report earned {reply['reward']}")
        if reply["reward"] > 0 and found_line is None:
            found_line = line
    expect(found_line is not None, f"{name}: no report in the hinted window matched")
    repeat = play(identify(found_line, category))
    expect(close_to(repeat["reward"], FALSE_POSITIVE), f"{name}: a repeated report earned {repeat['reward']}")
    final = play(SUBMIT)
    expect(final["done"] is True, f"{name}: submit did not end the episode")
    cumulative = final["metadata"].get("cumulative_reward")
    expect(cumulative is not None and close_to(cumulative, sum(rewards)),
           f"{name}: cumulative_reward {cumulative} is not the sum of the steps {sum(rewards)}")
    result = d.get("/result", session_id=session_id)
    for key in ("completion_score", "precision", "recall"):
        expect(0.0 <= result[key] <= 1.0, f"{name}: {key} {result[key]} outside [0, 1]")


# ---------------------------------------------------------------------- inference log format


class StubModel:
    """An OpenAI-compatible chat endpoint on loopback answering a fixed script of replies."""

    def __init__(self, replies: list[str]) -> None:
        pending = list(replies)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                content = pending.pop(0) if pending else json.dumps(SUBMIT)
                data = json.dumps({"id": "stub", "object": "chat.completion", "created": 0, "model": "stub",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def check_inference(d: Deployment) -> None:
    script = ROOT / "scripts" / "inference.py"
    expect(script.is_file(), "scripts/inference.py is missing")
    model = StubModel(["this is not JSON", json.dumps(identify(1, "syntax_error")), json.dumps(HINT), json.dumps(SUBMIT)])
    try:
        env = dict(os.environ, ENV_URL=d.url, API_BASE_URL=model.url, MODEL_NAME="validate-stub",
                   HF_TOKEN="stub", CODE_REVIEWER_TASK="syntax_check", NO_PROXY="127.0.0.1,localhost")
        result = subprocess.run([sys.executable, str(script)], env=env, cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
    finally:
        model.close()
    expect(result.returncode == 0, f"exit {result.returncode}: {last_line(result.stderr)}")
    lines = result.stdout.splitlines()
    expect(len(lines) >= 3 and START_LINE.fullmatch(lines[0]), f"first line is not [START]: {lines[:1]}")
    end = END_LINE.fullmatch(lines[-1])
    expect(end, f"last line is not [END]: {lines[-1:]}")
    bad = [line for line in lines[1:-1] if not STEP_LINE.fullmatch(line)]
    expect(not bad, f"not a [STEP] line: {bad[:1]}")
    steps = [STEP_LINE.fullmatch(line) for line in lines[1:-1]]
    expect([int(s["step"]) for s in steps] == list(range(1, len(steps) + 1)), "steps are not numbered 1, 2, ...")
    expect(int(end["steps"]) == len(steps) and end["rewards"].split(",") == [s["reward"] for s in steps],
           "[END] steps / rewards differ from the [STEP] lines")
    expect(steps[0]["error"] == "invalid_reply", "an invalid model reply was not logged as error=invalid_reply")


# ---------------------------------------------------------------------- repository


def check_readme(_: Deployment) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [heading for heading in README_SECTIONS if not re.search(rf"^{re.escape(heading)}\s*$", text, re.M)]
    expect(not missing, f"sections missing: {missing}")
    for needle in ("make run", "make test", "| event | step reward |", "scripts/inference.py", "scripts/validate.py"):
        expect(needle in text, f"README does not mention {needle!r}")


def check_manifest(_: Deployment) -> None:
    expect((ROOT / "openenv.yaml").is_file(), "openenv.yaml is missing")
    run_openenv(str(ROOT), "--level", "static")


def check_dockerfile(_: Deployment) -> None:
    path = ROOT / "Dockerfile"
    expect(path.is_file(), "Dockerfile is missing")
    expect(re.search(r"^EXPOSE\s+(?:\S+\s+)*7860\b", path.read_text(encoding="utf-8"), re.M), "no EXPOSE 7860")


# ---------------------------------------------------------------------- runner


def checks(d: Deployment) -> Iterator[tuple[str, Callable[[Deployment], None]]]:
    episode = HttpEpisode()
    yield "health", check_health
    yield "GET /", check_home
    yield "GET /tasks", check_tasks
    yield "GET /metadata", check_metadata
    yield "GET /schema", check_schema
    yield "GET /openapi.json", check_openapi
    yield "POST /reset", episode.reset
    yield "POST /step", episode.step
    yield "GET /state", episode.state
    yield "GET /result", episode.result
    yield "POST /mcp tools/list", check_mcp
    yield "GET /api/episodes/<id>", episode.record
    yield "openenv validate --url", check_openenv_url
    yield "websocket openenv envelope", check_ws_openenv
    yield "websocket original envelope", check_ws_original
    try:
        names = d.task_names()
    except Exception:  # noqa: BLE001 - already reported by the GET /tasks check
        names = []
    for name in names:
        yield f"task {name}", lambda d, name=name: check_task(d, name)
    if not names:
        yield "tasks", lambda d: expect(False, "no task to check (GET /tasks failed)")
    yield "reward ranges", check_reward_ranges
    yield "inference log format", check_inference
    yield "README sections", check_readme
    yield "openenv.yaml", check_manifest
    yield "Dockerfile", check_dockerfile


def run_checks(url: str) -> int:
    """Run every check against ``url``; return the number of failures."""
    deployment = Deployment(url)
    passed = failed = 0
    for name, check in checks(deployment):
        try:
            check(deployment)
        except Exception as exc:  # noqa: BLE001 - any failure is this check's FAIL line
            if isinstance(exc, CheckFailed):
                reason = str(exc)
            elif isinstance(exc, (requests.ConnectionError, ConnectionRefusedError)):
                reason = f"{exc.__class__.__name__}: cannot connect to {url}"
            else:
                reason = f"{exc.__class__.__name__}: {exc}"
            print(f"FAIL {name}: {' '.join(reason.split())[:300] or exc.__class__.__name__}", flush=True)
            failed += 1
        else:
            print(f"PASS {name}", flush=True)
            passed += 1
    print(f"{passed} passed, {failed} failed", flush=True)
    return failed


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running deployment; default: start a local one")
    args = parser.parse_args(argv)
    if args.url:
        return 1 if run_checks(args.url) else 0
    server = None
    try:
        server = LocalServer.with_temporary_database()
        print(f"started gunicorn (pid {server.process.pid}) on {server.url}", file=sys.stderr, flush=True)
        return 1 if run_checks(server.url) else 0
    except RuntimeError as exc:
        print(f"FAIL local server: {' '.join(str(exc).split())[:300]}", flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
