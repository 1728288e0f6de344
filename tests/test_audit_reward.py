"""``codereview audit-reward``: no policy that does not review may earn the score.

One test per thresholded (policy, task) cell of the panel, on the test split. A cell that
crosses its threshold today is a strict xfail whose reason holds the figures measured with the
command it names: when the content improves and the cell passes, the xfail fails, and whoever
sees it removes the mark (the threshold is never loosened to make a cell pass).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import Result

from app.agents.adversarial import (
    CompileLocator,
    DiffCleanModule,
    PlannedPolicy,
    differing_lines,
    locate_compile_errors,
)
from app.agents.adversarial.patterns import regex_findings
from app.agents.base import EpisodeContext
from app.commands.audit_reward import NOT_PLAYED, command
from app.env import ActionType, CodeIssue, CodeReviewerEnv, IssueType, Severity, load_registry
from app.services.audit import (
    MAX_MEAN,
    MAX_SUCCESS,
    AuditReport,
    EngineRunner,
    audit_reward,
    default_panel,
)

from conftest import ROOT

SPLIT = "test"
EPISODES = 20
# The test split is played under an episode secret; a fixed one (that no policy knows) makes the
# figures below reproducible.
SECRET = "audit-reward-tests"
MEASURED = f"measured with codereview audit-reward --split {SPLIT} --episodes {EPISODES} --episode-secret {SECRET}"
REGISTRY = load_registry()
PANEL = default_panel()
THRESHOLDED = [(policy.name, task.name) for policy in PANEL for task in REGISTRY.tasks()
               if policy.plays(task) and policy.thresholded_on(task, SPLIT)]
# Cells above their thresholds today: (policy, task) -> the figures of the command above.
KNOWN_FAILURES: dict[tuple[str, str], str] = {
    # None at this size today. At 200 episodes (docs/audit.md, "Measured") the pattern rows cross
    # the success threshold on pr_review (6-10%), which 20 episodes cannot resolve.
}


def cell_param(policy: str, task: str) -> object:
    figures = KNOWN_FAILURES.get((policy, task))
    marks = [pytest.mark.xfail(strict=True, reason=f"{figures}, {MEASURED}")] if figures else []
    return pytest.param(policy, task, marks=marks, id=f"{policy}-{task}")


@pytest.fixture(scope="module")
def panel() -> AuditReport:
    return audit_reward(REGISTRY, split=SPLIT, episodes=EPISODES, episode_secret=SECRET.encode())


@pytest.mark.parametrize("policy, task", [cell_param(*cell) for cell in THRESHOLDED])
def test_a_policy_that_does_not_review_stays_under_the_thresholds(panel: AuditReport, policy: str, task: str) -> None:
    cell = panel.cell(policy, task)
    assert cell is not None and cell.thresholded and cell.metrics.episodes == EPISODES
    assert cell.metrics.mean_completion_score <= MAX_MEAN, f"mean {cell.metrics.mean_completion_score:.3f}"
    assert cell.metrics.success_rate <= MAX_SUCCESS, f"success {cell.metrics.success_rate:.0%}"
    assert not cell.crossed


def test_every_known_failure_names_a_thresholded_cell() -> None:
    assert set(KNOWN_FAILURES) <= set(THRESHOLDED)


def test_the_blind_policies_and_regeneration_are_thresholded_on_every_task() -> None:
    for name in ("submit_at_once", "random", "line_sweep", "regenerate_from_seed"):
        assert {task for policy, task in THRESHOLDED if policy == name} == set(REGISTRY.names())


def test_the_oracle_scores_one_on_every_task(panel: AuditReport) -> None:
    for task in REGISTRY.names():
        cell = panel.cell("oracle", task)
        assert cell is not None and not cell.thresholded and cell.expected_high
        assert cell.metrics.mean_completion_score == 1.0 and cell.metrics.success_rate == 1.0


def test_expected_high_and_reference_rows_are_never_thresholded(panel: AuditReport) -> None:
    for cell in panel.cells:
        if cell.policy in ("oracle", "static", "diff_clean_module") or cell.expected_high:
            assert not cell.thresholded and not cell.crossed
    assert panel.cell("compile_locator", "syntax_check").expected_high  # type: ignore[union-attr]
    assert panel.cell("compile_locator", "logic_bug_detection") is None  # compiles: nothing to locate


def test_regeneration_from_the_seed_wins_a_public_split_and_is_not_thresholded_there() -> None:
    report = audit_reward(REGISTRY, tasks=["security_audit"], split="validation", episodes=3,
                          policies=[p for p in PANEL if p.name == "regenerate_from_seed"])
    cell = report.cell("regenerate_from_seed", "security_audit")
    assert report.episode_secret == "none"
    assert cell is not None and cell.expected_high and not cell.thresholded
    assert cell.metrics.mean_completion_score == 1.0


def test_the_panel_is_deterministic() -> None:
    def figures() -> list[tuple[str, str, float, float, float]]:
        report = audit_reward(REGISTRY, tasks=["full_review"], split=SPLIT, episodes=4, seed_start=7,
                              policies=[p for p in PANEL if p.name in ("random", "regex")],
                              episode_secret=SECRET.encode())
        return [(c.policy, c.task, c.metrics.mean_completion_score, c.metrics.success_rate, c.metrics.precision)
                for c in report.cells]

    first = figures()
    assert len(first) == 2 and first == figures()


# ---------------------------------------------------------------------- policies


def planned(policy: PlannedPolicy, task: str, seed: int = 0) -> list[CodeIssue]:
    env = CodeReviewerEnv(task_name=task, registry=REGISTRY)
    observation = env.reset(seed=seed, split=SPLIT)
    return policy.plan(observation, EpisodeContext(task_name=task, seed=seed))


class Overeager(PlannedPolicy):
    """More findings than steps."""

    name = "overeager"

    def plan(self, observation, context):  # type: ignore[no-untyped-def]
        return [CodeIssue(line_number=n, issue_type=IssueType.SYNTAX_ERROR, severity=Severity.LOW)
                for n in range(1, 100)]


def test_a_policy_with_more_findings_than_steps_reports_the_first_ones_then_submits() -> None:
    env = CodeReviewerEnv(task_name="syntax_check", registry=REGISTRY)
    observation = env.reset(seed=3, split=SPLIT)
    policy = Overeager()
    policy.begin(observation, EpisodeContext(task_name="syntax_check", seed=3))
    actions = []
    while not observation.done:
        actions.append(policy.act(observation))
        observation = env.step(actions[-1])[0]
    assert len(actions) == observation.max_steps
    assert [a.issue.line_number for a in actions[:-1]] == list(range(1, observation.max_steps))  # type: ignore[union-attr]
    assert actions[-1].normalized().action_type is ActionType.SUBMIT_REVIEW


@pytest.mark.parametrize("policy", [p for p in PANEL if p.role != "reference"], ids=lambda p: p.name)
def test_every_policy_ends_its_episodes_within_max_steps(policy) -> None:  # type: ignore[no-untyped-def]
    runner = EngineRunner(REGISTRY)
    for task in REGISTRY.tasks():
        if policy.plays(task):
            result = runner.run(policy.make(5, SPLIT), task.name, 5, SPLIT)
            assert result.done and 1 <= result.steps_used <= task.max_steps


def test_the_regex_policy_flags_an_interpolated_query_and_not_a_bound_one() -> None:
    code = ('def find(db, email):\n'
            '    db.execute(f"SELECT * FROM users WHERE email = \'{email}\'")\n'
            '    db.execute("SELECT * FROM users WHERE email = ?", (email,))\n')
    assert [finding.line_number for finding in regex_findings(code)] == [2]


def test_the_compile_locator_reports_each_blamed_line_once() -> None:
    code = "def f(x)\n    return x\n\ndef g(y):\n    return [y\n\nz = 1\n"
    assert [finding.line_number for finding in locate_compile_errors(code, limit=10)] == [1, 5]
    assert planned(CompileLocator(), "logic_bug_detection") == []  # code that compiles


def test_a_clean_module_differs_from_itself_nowhere() -> None:
    corpus = ROOT / "tasks" / "corpus"
    path = next(iter(sorted(corpus.glob("*/module.py"))))
    assert differing_lines(path.read_text(encoding="utf-8"), corpus) == (path.parent.name, ())


def test_the_clean_module_diff_finds_the_planted_lines_of_an_episode() -> None:
    env = CodeReviewerEnv(task_name="logic_bug_detection", registry=REGISTRY)
    env.reset(seed=1, split=SPLIT)
    reported = {f.line_number for f in DiffCleanModule().plan(env.observation(), EpisodeContext("logic_bug_detection"))}
    assert {planted.line_number for planted in env.ground_truth()} <= reported


# ---------------------------------------------------------------------- the command


@pytest.fixture
def invoke(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    from app import create_app

    application = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"})
    runner = application.test_cli_runner()
    yield lambda *args: runner.invoke(command, list(args))
    application.extensions["database"].dispose()


def as_json(run: Result) -> dict:  # type: ignore[type-arg]
    return json.loads(run.stdout)


def test_the_exit_status_says_whether_a_threshold_was_crossed(invoke) -> None:  # type: ignore[no-untyped-def]
    args = ["--policy", "random", "--tasks", "security_audit,full_review", "--episodes", "6",
            "--episode-secret", SECRET, "--format", "json"]
    within = invoke(*args, "--max-mean", "1", "--max-success", "1")
    assert within.exit_code == 0, within.output
    cells = as_json(within)["cells"]
    highest = max(cell["mean_completion_score"] for cell in cells)
    assert highest > 0 and as_json(within)["crossed"] == 0

    crossed = invoke(*args[:-2], "--max-mean", f"{highest - 0.001:.4f}", "--max-success", "1")
    assert crossed.exit_code == 1
    worst = max(cells, key=lambda cell: cell["mean_completion_score"])
    assert f"FAIL random on {worst['task']}" in crossed.stdout


def test_the_table_has_a_row_per_policy_and_a_column_per_task(invoke) -> None:  # type: ignore[no-untyped-def]
    run = invoke("--episodes", "2", "--seed-start", "30")
    assert run.exit_code in (0, 1), run.output
    lines = run.stdout.splitlines()
    header = next(line for line in lines if "policy" in line and "role" in line)
    for task in REGISTRY.names():
        assert task in header
    for policy in PANEL:
        row = next(line for line in lines if line.startswith(f"│ {policy.name} "))
        unplayed = sum(not policy.plays(task) for task in REGISTRY.tasks())
        assert row.count(NOT_PLAYED) == unplayed
        assert ("FAIL" in row or " ok " in row) == any(policy.thresholded_on(t, SPLIT) for t in REGISTRY.tasks()
                                                        if policy.plays(t))
    assert (run.exit_code == 1) == any(line.startswith("FAIL ") for line in lines)


def test_json_output_lists_every_played_cell(invoke) -> None:  # type: ignore[no-untyped-def]
    run = invoke("--tasks", "syntax_check", "--task", "logic_bug_detection", "--episodes", "2", "--format", "json")
    report = as_json(run)
    assert report["tasks"] == ["syntax_check", "logic_bug_detection"] and report["split"] == SPLIT
    assert report["episode_secret"] == "random"  # the test split, played as a deployment serves it
    expected = {(p.name, t.name) for p in PANEL for t in map(REGISTRY.get, report["tasks"]) if p.plays(t)}
    assert {(c["policy"], c["task"]) for c in report["cells"]} == expected
    for cell in report["cells"]:
        assert cell["episodes"] == 2 and 0 <= cell["mean_completion_score"] <= 1
    assert run.exit_code == (1 if report["crossed"] else 0)


@pytest.mark.parametrize("args, message", [
    (["--tasks", "nope"], "valid tasks"),
    (["--policy", "clairvoyant"], "valid policies"),
])
def test_bad_arguments_are_refused(invoke, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    run = invoke(*args)
    assert run.exit_code == 2 and message in run.output
