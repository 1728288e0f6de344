"""The canonical snippets' answer keys are proven by independent checks, not asserted:
compile() for syntax errors, the module's own tests for logic bugs, Bandit for
vulnerabilities it knows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.env import IssueType, load_registry
from app.env.tasks import default_tasks_dir

REGISTRY = load_registry()


def with_fixes(code: str, issues, skip: str | None = None) -> str:
    lines = code.split("\n")
    for issue in issues:
        if issue.id != skip:
            lines[issue.line_number - 1] = issue.fix
    return "\n".join(lines)


def compiles(source: str) -> bool:
    try:
        compile(source, "snippet.py", "exec")
    except SyntaxError:
        return False
    return True


def test_every_task_plants_after_a_blind_sweep_window_and_keeps_issues_apart() -> None:
    for task in (t for t in REGISTRY.tasks() if t.canonical is not None):
        lines = sorted(issue.line_number for issue in task.canonical.issues)
        assert lines[0] > 20, f"{task.name}: an issue sits where a line sweep finds it"
        decoy_lines = {d.line_number for d in task.canonical.decoys}
        accepted = {n for issue in task.canonical.issues for n in issue.accepted_lines}
        assert not decoy_lines & accepted, f"{task.name}: a decoy shares a line with an issue"


def test_syntax_errors_are_each_real_and_independent() -> None:
    spec = REGISTRY.get("syntax_check").canonical
    assert not compiles(spec.snippet.code)
    assert compiles(with_fixes(spec.snippet.code, spec.issues))
    for issue in spec.issues:
        source = with_fixes(spec.snippet.code, spec.issues, skip=issue.id)
        with pytest.raises(SyntaxError) as excinfo:
            compile(source, "snippet.py", "exec")
        assert excinfo.value.lineno in issue.accepted_lines, issue.id


def run_module_tests(tmp_path: Path, task_dir: Path, source: str) -> subprocess.CompletedProcess:
    workdir = tmp_path / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    (workdir / "snippet.py").write_text(source, encoding="utf-8")
    shutil.copy(task_dir / "snippet_test.py", workdir / "snippet_test.py")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "snippet_test.py"],
        cwd=workdir, capture_output=True, text=True, timeout=60,
    )


def test_logic_bugs_each_break_the_modules_own_tests(tmp_path: Path) -> None:
    task_dir = default_tasks_dir() / "logic_bug_detection"
    spec = REGISTRY.get("logic_bug_detection").canonical
    assert compiles(spec.snippet.code)
    fixed = run_module_tests(tmp_path, task_dir, with_fixes(spec.snippet.code, spec.issues))
    assert fixed.returncode == 0, fixed.stdout
    for issue in spec.issues:
        alone = with_fixes(spec.snippet.code, spec.issues, skip=issue.id)
        assert run_module_tests(tmp_path, task_dir, alone).returncode == 1, issue.id


def bandit_findings(tmp_path: Path, source: str) -> set[tuple[int, str]]:
    path = tmp_path / "snippet.py"
    path.write_text(source, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "bandit", "-q", "-f", "json", str(path)],
                         capture_output=True, text=True, timeout=120)
    return {(item["line_number"], item["test_id"]) for item in json.loads(out.stdout)["results"]}


def test_bandit_confirms_the_vulnerabilities_it_knows_and_spares_decoys(tmp_path: Path) -> None:
    task_dir = default_tasks_dir() / "security_audit"
    raw = tomllib.loads((task_dir / "task.toml").read_text(encoding="utf-8"))
    bandit_ids = {item["id"]: item.get("bandit_test", "") for item in raw["issues"]}
    spec = REGISTRY.get("security_audit").canonical
    assert all(issue.issue_type is IssueType.SECURITY_VULNERABILITY and issue.cwe for issue in spec.issues)
    assert compiles(spec.snippet.code)
    before = bandit_findings(tmp_path, spec.snippet.code)
    after = bandit_findings(tmp_path, with_fixes(spec.snippet.code, spec.issues))
    confirmed = 0
    for issue in spec.issues:
        test_id = bandit_ids[issue.id]
        if test_id:
            assert (issue.line_number, test_id) in before, issue.id
            assert (issue.line_number, test_id) not in after, f"{issue.id}: fix still flagged"
            confirmed += 1
    assert confirmed >= 6
    flagged_lines = {line for line, _ in before}
    for decoy in spec.decoys:
        assert decoy.line_number not in flagged_lines, decoy.id
