"""scripts/validate.py, the pre-submission validation, against good and broken deployments."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

from app.env import load_registry

from conftest import ROOT, LiveServer, free_port

SCRIPT = ROOT / "scripts" / "validate.py"
SUMMARY = re.compile(r"(\d+) passed, (\d+) failed")


def expected_checks() -> list[str]:
    """One line per check of the original checklist; each task adds a `task <name>` line."""
    return ["health", "GET /", "GET /tasks", "GET /metadata", "GET /schema", "GET /openapi.json", "POST /reset",
            "POST /step", "GET /state", "GET /result", "POST /mcp tools/list", "GET /api/episodes/<id>",
            "openenv validate --url", "websocket openenv envelope", "websocket original envelope",
            *(f"task {name}" for name in load_registry().names()), "reward ranges",
            "inference log format", "README sections", "openenv.yaml", "Dockerfile"]


def run_validate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def check_lines(stdout: str) -> tuple[list[str], list[str], tuple[int, int]]:
    """(names passed, names failed, summary counts); every line is PASS, FAIL or the summary."""
    *lines, summary = stdout.splitlines()
    passed = [line[len("PASS "):] for line in lines if line.startswith("PASS ")]
    failed = [line[len("FAIL "):].split(": ", 1)[0] for line in lines if re.match(r"FAIL .+: \S", line)]
    assert len(passed) + len(failed) == len(lines), lines
    counts = SUMMARY.fullmatch(summary)
    assert counts, summary
    assert (int(counts[1]), int(counts[2])) == (len(passed), len(failed))
    return passed, failed, (len(passed), len(failed))


def test_a_good_deployment_passes_every_check(live_server: LiveServer) -> None:
    result = run_validate("--url", live_server.url)
    passed, failed, _ = check_lines(result.stdout)
    assert failed == [], result.stdout
    assert passed == expected_checks()
    assert result.returncode == 0


def test_nothing_listening_fails_and_exits_non_zero() -> None:
    result = run_validate("--url", f"http://127.0.0.1:{free_port()}")
    passed, failed, _ = check_lines(result.stdout)
    assert result.returncode == 1
    assert {"health", "POST /reset", "websocket openenv envelope", "reward ranges", "inference log format"} <= set(failed)
    # The repository checks do not depend on the server.
    assert passed == ["README sections", "openenv.yaml", "Dockerfile"]


def test_without_url_it_serves_this_checkout_and_stops_afterwards() -> None:
    result = run_validate()
    passed, failed, _ = check_lines(result.stdout)
    assert result.returncode == 0 and failed == [], result.stdout
    assert passed == expected_checks()
    port = int(re.search(r"on http://127\.0\.0\.1:(\d+)", result.stderr)[1])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the server still listens"
