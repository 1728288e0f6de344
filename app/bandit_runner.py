"""Bandit as a library: one place that loads it and runs it over a piece of source code.

Used by the static reviewer agent and by corpus verification.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=1)
def _bandit() -> tuple[Any, Any]:
    """Bandit's manager module and configuration, loaded on first use (it loads every plugin)."""
    logging.getLogger("bandit").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # Bandit passes stevedore an argument that stevedore deprecates: not ours to fix.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="stevedore")
        from bandit.core import config, manager

        return manager, config.BanditConfig()


def run_bandit(source: str) -> list[Any]:
    """Bandit's issues (``lineno``, ``test_id``, ``cwe``, ...) for ``source``."""
    manager, config = _bandit()
    with tempfile.TemporaryDirectory(prefix="codereview-bandit-") as folder:
        path = Path(folder) / "module.py"
        path.write_text(source, encoding="utf-8")
        scan = manager.BanditManager(config, "file", quiet=True)
        scan.discover_files([str(path)])
        with warnings.catch_warnings():
            # Under ``-W error`` a SyntaxWarning of the code would make Bandit skip it.
            warnings.simplefilter("ignore")
            scan.run_tests()
        return list(scan.get_issue_list())
