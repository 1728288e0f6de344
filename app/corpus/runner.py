"""Subprocess that runs a base module's tests (or its exploits) against mutated versions.

Reads a JSON job on stdin, prints a JSON result on stdout. Run as ``python -m app.corpus.runner``;
never inside the server. Each mutant gets a wall-clock limit: a mutant that hangs counts as
failing its tests. A mutant naming an ``exploit`` runs that function of the module's
``exploits.py`` (``exploit_<function>``, or ``sqli_<function>`` for SQL injection) instead of
the tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 10
# The clean controls run first and last; the first pytest run of a process also loads every
# plugin, which on a busy machine can take longer than a mutant's limit.
CONTROL_TIMEOUT_SECONDS = 60


class MutantTimeout(Exception):
    """Raised by the alarm when a mutant runs too long."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise MutantTimeout()


def _purge() -> None:
    for name in ("module", "test_module", "exploits"):
        sys.modules.pop(name, None)


def run_tests(workdir: Path, source: str, limit: int = TIMEOUT_SECONDS) -> bool:
    """True when the module's tests all pass on ``source`` within ``limit`` seconds."""
    import pytest

    (workdir / "module.py").write_text(source, encoding="utf-8")
    _purge()
    signal.alarm(limit)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly",
                                "-W", "ignore", str(workdir / "test_module.py")])
    except MutantTimeout:
        return False
    finally:
        signal.alarm(0)
    return code == 0


def run_exploit(source: str, name: str) -> bool:
    """True when the function ``name`` of ``exploits.py`` succeeds against ``source``."""
    _purge()
    module = types.ModuleType("module")
    signal.alarm(TIMEOUT_SECONDS)
    try:
        # The exploits first: like the tests, they may set what the module reads at import
        # (an environment variable it requires).
        import exploits  # type: ignore[import-not-found]

        sys.modules["module"] = module  # before exec: dataclasses look their module up
        exec(compile(source, "module.py", "exec"), module.__dict__)  # noqa: S102 - the corpus's own code

        probe = getattr(exploits, name, None)
        return bool(probe(module)) if probe is not None else False
    except Exception:  # noqa: BLE001 - an exploit that crashes did not succeed
        return False
    finally:
        signal.alarm(0)


def main() -> None:
    job = json.load(sys.stdin)
    folder = Path(job["module_dir"])
    signal.signal(signal.SIGALRM, _alarm)
    workdir = Path(tempfile.mkdtemp(prefix="codereview-verify-"))
    results: dict[str, Any] = {}
    try:
        for name in ("test_module.py", "exploits.py"):
            if (folder / name).is_file():
                shutil.copy(folder / name, workdir / name)
        os.chdir(workdir)
        sys.path.insert(0, str(workdir))
        for mutant in job["mutants"]:
            if mutant.get("exploit"):
                results[mutant["key"]] = run_exploit(mutant["source"], mutant["exploit"])
            else:
                limit = CONTROL_TIMEOUT_SECONDS if mutant["key"].startswith("#") else TIMEOUT_SECONDS
                results[mutant["key"]] = run_tests(workdir, mutant["source"], limit)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    json.dump(results, sys.__stdout__)


if __name__ == "__main__":
    main()
