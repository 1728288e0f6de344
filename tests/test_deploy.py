"""The container entry point, run directly (no Docker engine needed), and the Dockerfile's facts.

``docker-entrypoint.sh`` is started the way the image starts it: as the process itself, from the
project directory, with the venv's ``bin`` on PATH standing in for the image's ``/usr/local/bin``.
Every server binds a free loopback port and every subprocess is bounded and cleaned up.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests

from conftest import ROOT, free_port

ENTRYPOINT = ROOT / "docker-entrypoint.sh"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VENV_BIN = Path(sys.executable).parent
BROKEN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/nope"
COMMAND_TIMEOUT = 60  # seconds for a migration plus a short command
FAILURE_TIMEOUT = 30  # seconds for a refused connection to fail the migration


def entrypoint_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a container: DATABASE_URL, gunicorn settings, the venv first on PATH."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("GUNICORN_", "PYTEST_")) and key not in {"PORT", "ALEMBIC_CONFIG"}}
    env.update(DATABASE_URL=database_url, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               GUNICORN_WORKERS="1", GUNICORN_THREADS="4", **extra)
    return env


def stop(process: subprocess.Popen, group: bool = False) -> None:
    """Last-resort cleanup: the process, and with ``group`` (started with ``start_new_session``)
    anything left in its process group, such as workers orphaned by a master that died first."""
    if process.poll() is None:
        process.kill()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    if group:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@dataclass
class Result:
    pid: int
    returncode: int
    stdout: str
    stderr: str


def run_entrypoint(args: list[str], env: dict[str, str], timeout: float = COMMAND_TIMEOUT) -> Result:
    """Run the script to completion in its own process group, killed (group and all) if it
    outlives ``timeout`` or the test fails."""
    with subprocess.Popen([str(ENTRYPOINT), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            stop(process, group=True)
    return Result(process.pid, process.returncode, stdout, stderr)


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    connection.close()
    return {name for (name,) in rows}


def test_entrypoint_is_an_executable_posix_script() -> None:
    text = ENTRYPOINT.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert re.search(r"^set -eu$", text, re.MULTILINE)
    assert os.access(ENTRYPOINT, os.X_OK), "docker-entrypoint.sh must be executable (chmod +x)"
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True, timeout=10)


# ---------------------------------------------------------------------- serving


class Served:
    def __init__(self, process: subprocess.Popen, url: str, database: Path, log: Path) -> None:
        self.process, self.url, self.database, self.log = process, url, database, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The entry point with no arguments, over a fresh (unmigrated) SQLite file."""
    database = tmp_path / "fresh.db"
    port = free_port()
    log = tmp_path / "entrypoint.log"
    env = entrypoint_env(f"sqlite:///{database}", GUNICORN_BIND=f"127.0.0.1:{port}",
                         SERVED_BY_HEADER="1", GUNICORN_GRACEFUL_TIMEOUT="10")
    with open(log, "w") as sink:
        process = subprocess.Popen([str(ENTRYPOINT)], cwd=ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Served(process, f"http://127.0.0.1:{port}", database, log)
    try:
        deadline = time.monotonic() + 45
        while True:
            if process.poll() is not None:
                pytest.fail(f"the entry point exited with {process.returncode}:\n{server.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /health within 45 s:\n{server.output()}")
            try:
                if requests.get(server.url + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        yield server
    finally:
        stop(process, group=True)


def test_migrates_then_serves_health(served: Served) -> None:
    assert {"sessions", "episodes", "steps", "alembic_version"} <= tables(served.database)
    response = requests.get(served.url + "/health", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy" and body["database"] == "sqlite"


def test_gunicorn_replaces_the_shell_and_stops_cleanly_on_sigterm(served: Served) -> None:
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    pid = served.process.pid
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "gunicorn" in cmdline and "docker-entrypoint" not in cmdline, cmdline
    # The worker that answers is a child of the process started: no shell in between.
    worker = int(requests.get(served.url + "/health", timeout=5).headers["X-Served-By"])
    stat = Path(f"/proc/{worker}/stat").read_text()
    assert int(stat.rsplit(")", 1)[1].split()[1]) == pid

    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    try:
        returncode = served.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gunicorn did not stop within 20 s of SIGTERM:\n{served.output()}")
    assert returncode == 0, served.output()
    assert time.monotonic() - started < 20
    with pytest.raises(requests.ConnectionError):
        requests.get(served.url + "/health", timeout=2)


# ---------------------------------------------------------------------- other commands


def test_a_command_runs_in_place_of_gunicorn_after_migrating(tmp_path: Path) -> None:
    database = tmp_path / "command.db"
    env = entrypoint_env(f"sqlite:///{database}")
    result = run_entrypoint([sys.executable, "-c", "import os; print('ran', os.getpid())"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ran", str(result.pid)]  # exec: the command is the process started
    assert "Starting gunicorn" not in result.stderr
    assert {"sessions", "episodes", "steps", "alembic_version"} <= tables(database)


def test_codereview_routes(tmp_path: Path) -> None:
    database = tmp_path / "routes.db"
    result = run_entrypoint(["codereview", "routes"], entrypoint_env(f"sqlite:///{database}"))
    assert result.returncode == 0, result.stderr
    assert re.search(r"\s/reset\s", result.stdout), result.stdout
    assert "/health" in result.stdout
    assert "alembic_version" in tables(database)


def test_abandon_idle_runs_as_a_scheduled_command(tmp_path: Path) -> None:
    # The form a cron job or a scheduler uses: `docker run IMAGE codereview abandon-idle ...`.
    database = tmp_path / "sweep.db"
    result = run_entrypoint(["codereview", "abandon-idle", "--older-than", "60"],
                            entrypoint_env(f"sqlite:///{database}"))
    assert result.returncode == 0, result.stderr
    assert "0 episodes idle for more than 60 s marked abandoned" in result.stdout


def test_a_missing_sqlite_directory_is_created(tmp_path: Path) -> None:
    database = tmp_path / "volume" / "nested" / "codereview.db"
    result = run_entrypoint([sys.executable, "-c", "print('ok')"], entrypoint_env(f"sqlite:///{database}"))
    assert result.returncode == 0, result.stderr
    assert "alembic_version" in tables(database)


def test_an_unwritable_sqlite_directory_stops_with_a_clear_message(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # /proc refuses new directories even to root: a stand-in for a read-only or foreign-owned mount.
    result = run_entrypoint([sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"],
                            entrypoint_env("sqlite:////proc/codereview-missing/codereview.db"))
    assert result.returncode == 1
    assert "/proc/codereview-missing cannot be written" in result.stderr
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr
    assert "alembic upgrade head" not in result.stderr  # stopped before migrating
    assert not marker.exists()


@pytest.mark.parametrize("preset, expected", [(None, "10"), ("3", "3")])
def test_postgres_connection_attempts_are_bounded_for_the_service_too(
        tmp_path: Path, preset: str | None, expected: str) -> None:
    env = entrypoint_env(f"sqlite:///{tmp_path / 'timeout.db'}")
    env.pop("PGCONNECT_TIMEOUT", None)
    if preset is not None:
        env["PGCONNECT_TIMEOUT"] = preset
    result = run_entrypoint([sys.executable, "-c", "import os; print(os.environ['PGCONNECT_TIMEOUT'])"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_options_are_passed_to_gunicorn(tmp_path: Path) -> None:
    database = tmp_path / "options.db"
    result = run_entrypoint(["--check-config"], entrypoint_env(f"sqlite:///{database}"))
    assert result.returncode == 0, result.stderr
    assert "alembic_version" in tables(database)


def test_a_failed_migration_stops_before_gunicorn(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    result = run_entrypoint([], entrypoint_env(BROKEN_URL, GUNICORN_BIND=f"127.0.0.1:{port}"),
                            timeout=FAILURE_TIMEOUT)
    assert result.returncode != 0
    assert time.monotonic() - started < FAILURE_TIMEOUT
    assert "migration failed" in result.stderr
    assert "nope" not in result.stderr.splitlines()[0]  # the first line names the scheme only
    output = result.stdout + result.stderr
    assert "Starting gunicorn" not in output and "Listening at" not in output
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_a_failed_migration_does_not_run_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run_entrypoint(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"], entrypoint_env(BROKEN_URL),
        timeout=FAILURE_TIMEOUT)
    assert result.returncode != 0
    assert "migration failed" in result.stderr
    assert not marker.exists()


# ---------------------------------------------------------------------- image definition


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined: list[tuple[str, str]] = []
    current = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, rest = current.partition(" ")
        joined.append((keyword.upper(), rest.strip()))
        current = ""
    return joined


def dockerfile(keyword: str) -> list[str]:
    return [rest for name, rest in instructions(DOCKERFILE) if name == keyword]


def test_dockerfile_base_image_and_environment() -> None:
    assert dockerfile("FROM") == ["python:3.11-slim"]
    env = " ".join(dockerfile("ENV"))
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PIP_NO_CACHE_DIR=1", "PORT=7860"):
        assert setting in env
    assert dockerfile("WORKDIR") == ["/app"]


def test_dockerfile_copies_metadata_before_the_code() -> None:
    copies = dockerfile("COPY")
    assert copies[0].split()[:3] == ["pyproject.toml", "README.md", "LICENSE"]
    assert copies[-1] == ". ."
    runs = " ".join(dockerfile("RUN"))
    # tasks/ and migrations/ live at the project root: an editable install or an explicit
    # CODEREVIEW_TASKS_DIR keeps them found.
    assert "-e ." in runs or "CODEREVIEW_TASKS_DIR=/app/tasks" in " ".join(dockerfile("ENV"))


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = dockerfile("USER")
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert "10001" in " ".join(dockerfile("RUN")) + user
    assert any("/app/instance" in volume for volume in dockerfile("VOLUME"))


def test_dockerfile_prepares_data_for_a_named_volume() -> None:
    # A fresh named volume mounted at /data copies the image directory's owner: the service user.
    runs = " ".join(dockerfile("RUN"))
    assert re.search(r"mkdir -p [^&]*/data", runs) and re.search(r"chown codereview:codereview [^&]*/data", runs)


def test_dockerfile_exposes_port_and_checks_health() -> None:
    assert "7860" in " ".join(dockerfile("EXPOSE")).split()
    checks = dockerfile("HEALTHCHECK")
    assert len(checks) == 1
    assert "/health" in checks[0] and "urllib" in checks[0] and "127.0.0.1" in checks[0]
    assert "curl" not in checks[0]


def test_dockerfile_entrypoint_is_the_script() -> None:
    entrypoints = dockerfile("ENTRYPOINT")
    assert len(entrypoints) == 1
    assert json.loads(entrypoints[0]) == ["/app/docker-entrypoint.sh"]  # exec form: no shell in between


def test_dockerignore_keeps_what_the_image_needs() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for excluded in (".venv", ".git", "instance", "**/__pycache__"):
        assert excluded in patterns
    needed = ["pyproject.toml", "README.md", "LICENSE", "app/__init__.py", "app/env/tasks.py",
              "alembic.ini", "gunicorn.conf.py", "wsgi.py", "docker-entrypoint.sh",
              *(str(path.relative_to(ROOT)) for path in (ROOT / "migrations").rglob("*.py")),
              *(str(path.relative_to(ROOT)) for path in (ROOT / "tasks").rglob("*") if path.is_file())]
    needed = [path for path in needed if "__pycache__" not in path and not path.endswith(".pyc")]
    for path in needed:
        assert (ROOT / path).exists(), path
        parts = Path(path).parts
        prefixes = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        for pattern in patterns:
            if pattern.startswith("!"):
                continue
            bare = pattern.removeprefix("**/")
            hit = any(fnmatch.fnmatchcase(prefix, pattern)
                      or fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], bare) for prefix in prefixes)
            assert not hit, f".dockerignore pattern {pattern!r} excludes {path}"
