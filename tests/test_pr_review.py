"""The pull-request task: benign rewrites and their preconditions, diffs that apply, episodes whose
issue count varies (none included) and whose planted lines are changed lines of the code after,
the reward of an empty answer key, and the task on the wire."""

from __future__ import annotations

import difflib
import random

import pytest

from app.corpus.verify import VerificationReport, module_of, verify_episode
from app.env import CodeIssue, CodeReviewerAction, CodeReviewerEnv, IssueType, Severity, load_registry
from app.env.corpus.operators import RewriteContext
from app.env.corpus.operators_benign import BENIGN_BY_NAME, BENIGN_REWRITES
from app.env.diffs import apply_unified_diff
from conftest import ROOT

REGISTRY = load_registry()
TASK = "pr_review"
LOGGED = RewriteContext(logger="log")


def benign(name: str, text: str, context: RewriteContext = RewriteContext()) -> str | None:
    return BENIGN_BY_NAME[name].apply(text, context)


# ---------------------------------------------------------------------- benign rewrites

@pytest.mark.parametrize("name, text, expected", [
    ("empty_check", "    if len(rows) == 0:", "    if not rows:"),
    ("empty_check", "    if len(rows) > 0 and ready:", "    if rows and ready:"),
    ("augmented_assignment", "    total = total + amount", "    total += amount"),
    ("expanded_assignment", "    total += price * qty", "    total = total + (price * qty)"),
    ("expanded_assignment", '    total += row["amount"]', '    total = total + row["amount"]'),
    ("reorder_independent", "    base = total // months\n    extra = total % months",
     "    extra = total % months\n    base = total // months"),
    ("chained_comparison", "    if low <= value and value <= high:", "    if low <= value <= high:"),
    ("conditional_to_min_max", "    cap = limit if limit <= balance else balance", "    cap = min(limit, balance)"),
    ("loop_to_comprehension", "    out = []\n    for row in rows:\n        out.append(row.id)", "    out = [row.id for row in rows]"),
    ("filtered_loop_to_comprehension", "    out = []\n    for row in rows:\n        if row.ok:\n            out.append(row.id)",
     "    out = [row.id for row in rows if row.ok]"),
    ("comprehension_to_loop", "    out = [row.id for row in rows if row.ok]",
     "    out = []\n    for row in rows:\n        if row.ok:\n            out.append(row.id)"),
    ("len_check", "    if not rows:", "    if len(rows) == 0:"),
    ("explaining_variable", "    return price * qty", "    outcome = price * qty\n    return outcome"),
])
def test_a_benign_rewrite_gives_the_intended_code(name: str, text: str, expected: str) -> None:
    assert benign(name, text) == expected


def test_a_logged_branch_needs_the_module_logger() -> None:
    text = "    if not rows: return []"
    assert benign("logged_branch", text) is None
    assert benign("logged_branch", text, LOGGED) == (
        '    if not rows:\n        log.debug("returning early: %s", "not rows")\n        return []')


@pytest.mark.parametrize("name, text", [
    ("augmented_assignment", "    total = total - fee + tip"),      # x - a + b is not x -= a + b
    ("reorder_independent", "    base = total // months\n    extra = total - base"),   # reads the other
    ("reorder_independent", "    first = next(it)\n    second = next(it)"),            # calls with effects
    ("reorder_independent", "    value = 1\n        other = 2"),                        # other levels
    ("empty_check", "    if not len(rows) == 0:"),                  # not a whole operand
    ("len_check", "    if not actor.is_admin:"),                     # an attribute is no collection
    ("loop_to_comprehension", "    out = []\n    for row in rows:\n        out.append(out[-1] + row)"),
    ("explaining_variable", "    return total"),                     # nothing to name
])
def test_a_benign_rewrite_refuses_what_is_not_behaviour_preserving_on_its_face(name: str, text: str) -> None:
    assert benign(name, text) is None


def test_a_named_query_names_the_sql_by_its_verb_where_the_name_is_new() -> None:
    line = '    rows = db.execute("SELECT id FROM t WHERE owner = ?", (owner,)).fetchall()'
    assert benign("named_query", line) == (
        '    select_sql = "SELECT id FROM t WHERE owner = ?"\n'
        '    rows = db.execute(select_sql, (owner,)).fetchall()')
    assert benign("named_query", '    db.execute("DELETE FROM t WHERE id = ?", (key,))  # é') == (
        '    delete_sql = "DELETE FROM t WHERE id = ?"\n    db.execute(delete_sql, (key,))  # é')
    taken = RewriteContext(words=frozenset({"select_sql"}))
    assert benign("named_query", line, taken) is None                                     # the name is in use
    assert benign("named_query", '    db.execute(f"SELECT id FROM {table}")') is None      # not a plain literal
    assert benign("named_query", '    db.execute("PRAGMA foreign_keys = ON")') is None     # no verb to name it by
    assert benign("named_query", '    for row in db.execute("SELECT id FROM t"):') is None  # a block header
    assert benign("named_query", '    db.execute("SELECT 1"); db.execute("SELECT 2")') is None


def test_rename_local_renames_every_use_in_the_function_or_nothing() -> None:
    function = "def f(items):\n    total = 0\n    for item in items:\n        total += item\n    return total"
    renamed = benign("rename_local", function)
    assert renamed == function.replace("total", "running_total")
    assert benign("rename_local", function.replace("return total", 'return f"{total}"')) is None  # in a string
    assert benign("rename_local", function.replace("def f(items)", "def f(items, total)")) is None  # a parameter


def test_every_benign_rewrite_is_named_and_described() -> None:
    assert len({rewrite.name for rewrite in BENIGN_REWRITES}) == len(BENIGN_REWRITES) >= 8
    assert all(rewrite.description for rewrite in BENIGN_REWRITES)


# ---------------------------------------------------------------------- diffs

def test_a_unified_diff_applies_back_to_the_code_it_was_made_from() -> None:
    rng = random.Random(7)
    base = [f"line {i}" for i in range(40)]
    for trial in range(200):
        changed = list(base)
        for _ in range(rng.randint(0, 5)):
            at = rng.randrange(len(changed))
            choice = rng.random()
            if choice < 0.3:
                del changed[at]
            elif choice < 0.6:
                changed.insert(at, f"new {trial}")
            else:
                changed[at] = f"changed {trial}"
        diff = "\n".join(difflib.unified_diff(base, changed, "a/x.py", "b/x.py", lineterm="")) + "\n"
        applied = apply_unified_diff("\n".join(base) + "\n", diff)
        assert applied.code == "\n".join(changed) + "\n"
        assert all(changed[n - 1].startswith(("new", "changed")) for n in applied.added)


def test_a_diff_that_does_not_match_is_refused() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-one\n+uno\n two\n"
    assert apply_unified_diff("one\ntwo\n", diff).code == "uno\ntwo\n"
    with pytest.raises(ValueError):
        apply_unified_diff("eins\ntwo\n", diff)


# ---------------------------------------------------------------------- episodes

def episodes(split: str, count: int) -> list:
    return [REGISTRY.episode(TASK, seed=seed, split=split) for seed in range(count)]


def test_the_task_hides_its_issue_count_and_has_carriers_on_every_shipped_split() -> None:
    task = REGISTRY.get(TASK)
    assert task.expected_issue_count is None and task.to_dict()["expected_issue_count"] is None
    sizes = REGISTRY.split_sizes(TASK)
    assert all(sizes[split] >= 3 for split in ("train", "validation", "test")), sizes


@pytest.mark.parametrize("split", ["train", "test"])
def test_episodes_are_pull_requests_whose_planted_lines_the_diff_changed(split: str) -> None:
    counts = set()
    for episode in episodes(split, 150):
        applied = apply_unified_diff(episode.snippet.code, episode.diff)
        assert applied.code == episode.changed_code
        counts.add(len(episode.issues))
        for issue in episode.issues:
            # A planted line is a changed line (of two swapped lines, the diff moves one).
            assert set(issue.accepted_lines) & applied.added, (episode.seed, issue)
        benign_lines = {decoy.line_number for decoy in episode.decoys}
        assert benign_lines and benign_lines <= applied.added
        assert not benign_lines & {n for issue in episode.issues for n in issue.accepted_lines}
    assert 0 in counts and max(counts) >= 3, counts  # two pull requests in a hundred plant nothing


def test_an_episode_is_the_same_for_the_same_seed() -> None:
    first, again = REGISTRY.episode(TASK, seed=11, split="train"), load_registry().episode(TASK, seed=11, split="train")
    assert (first.snippet.code, first.diff, first.issues) == (again.snippet.code, again.diff, again.issues)
    assert REGISTRY.episode(TASK, seed=12, split="train").diff != first.diff


def _empty_and_planted() -> tuple[int, int]:
    seeds = {len(REGISTRY.episode(TASK, seed=seed, split="train").issues) == 0: seed for seed in range(400)}
    return seeds[True], seeds[False]


def test_with_nothing_planted_an_immediate_submit_scores_one_and_any_report_is_a_false_positive() -> None:
    empty, _ = _empty_and_planted()
    env = CodeReviewerEnv(TASK, registry=REGISTRY)
    observation = env.reset(seed=empty, split="train")
    assert observation.diff and observation.info["expected_issue_count"] is None
    env.step(CodeReviewerAction(action_type="submit_review"))
    assert env.get_review_result().completion_score == 1.0 and env.get_review_result().success
    env.reset(seed=empty, split="train")
    changed = sorted(apply_unified_diff(observation.code_snippet.code, observation.diff).added)
    env.step(CodeReviewerAction(action_type="identify_issue", issue=CodeIssue(
        line_number=changed[0], issue_type=IssueType.LOGIC_BUG, severity=Severity.HIGH, description="a guess")))
    env.step(CodeReviewerAction(action_type="submit_review"))
    result = env.get_review_result()
    assert result.false_positives == 1 and result.completion_score == 0.0


def test_the_oracle_scores_one_on_a_pull_request_with_issues() -> None:
    _, planted = _empty_and_planted()
    env = CodeReviewerEnv(TASK, registry=REGISTRY)
    env.reset(seed=planted, split="train")
    for issue in env.ground_truth():
        env.step(CodeReviewerAction(action_type="identify_issue", issue=CodeIssue(
            line_number=issue.line_number, issue_type=issue.issue_type, severity=issue.severity,
            description=issue.description)))
    env.step(CodeReviewerAction(action_type="submit_review"))
    assert env.get_review_result().completion_score == 1.0


def test_generated_pull_requests_verify_on_their_final_code() -> None:
    modules = REGISTRY.generator.modules
    report = VerificationReport()
    for seed in range(4):
        episode = REGISTRY.episode(TASK, seed=seed, split="validation")
        assert verify_episode(episode, module_of(modules, episode), report), report.failures


# ---------------------------------------------------------------------- the wire

def test_reset_over_rest_shows_the_diff_and_the_openapi_document_describes_it(client) -> None:  # type: ignore[no-untyped-def]
    body = client.post("/reset", json={"task": TASK, "seed": 3, "split": "train"}).get_json()
    observation = body["observation"]
    assert observation["diff"].startswith("--- a/") and observation["info"]["expected_issue_count"] is None
    other = client.post("/reset", json={"task": "logic_bug_detection", "seed": 3}).get_json()["observation"]
    assert other["diff"] is None
    assert other["info"]["expected_issue_count"] == REGISTRY.get("logic_bug_detection").expected_issue_count
    spec = client.get("/openapi.json").get_json()
    assert "diff" in spec["components"]["schemas"]["Observation"]["properties"]


# ---------------------------------------------------------------------- what a pull request plants

def test_a_pull_request_plants_only_the_vulnerability_classes_its_task_names() -> None:
    allowed = REGISTRY.get("pr_review").pull_request.operators[IssueType.SECURITY_VULNERABILITY]
    planted = set()
    for seed in range(60):
        env = CodeReviewerEnv(task_name="pr_review", registry=REGISTRY)
        env.reset(seed=seed, split="train")
        planted |= {issue.kind for issue in env.ground_truth() if issue.issue_type is IssueType.SECURITY_VULNERABILITY}
    assert planted and planted <= allowed


@pytest.mark.parametrize("operators, message", [
    ('security_vulnerability = ["no_such_operator"]', "unknown operator"),
    ('security_vulnerability = ["flip_comparison"]', "plants logic_bug"),
    ('syntax_error = ["missing_colon"]', "not planted by the task's mix"),
    ('security_vulnerability = []', "non-empty list"),
])
def test_a_task_naming_operators_it_cannot_plant_is_refused(tmp_path, operators: str, message: str) -> None:
    from app.env.tasks import TaskDefinitionError, _load_task

    source = (ROOT / "tasks" / "pr_review" / "task.toml").read_text(encoding="utf-8")
    head, _, _ = source.partition("[generator.operators]")
    folder = tmp_path / "pr_review"
    folder.mkdir()
    (folder / "task.toml").write_text(f"{head}[generator.operators]\n{operators}\n", encoding="utf-8")
    with pytest.raises(TaskDefinitionError, match=message):
        _load_task(folder)
