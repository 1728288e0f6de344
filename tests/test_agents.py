"""The baseline agents: the oracle wins, the random policy loses, the static reviewer lies between,
and the static reviewer's checks find what they claim to on code of their own."""

from __future__ import annotations

import statistics
import textwrap
from typing import Any, Optional

import pytest

from app.agents.base import Agent, EpisodeContext
from app.agents.checks import find_logic_bugs, find_syntax_errors, find_vulnerabilities
from app.agents.registry import agent_names, make_agent
from app.env import ActionType, CodeReviewerEnv, IssueType, ReviewResult

from conftest import TASK_NAMES


class AnswerKeyTrap(tuple):
    """An answer key that fails the test when an agent looks at it."""

    def _touched(self, *_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the agent read the answer key")

    __iter__ = __len__ = __getitem__ = __contains__ = __bool__ = _touched  # type: ignore[assignment]


def play(agent: Agent, task: str, seed: int = 0, answer_key: Any = None,
         actions: Optional[list] = None) -> ReviewResult:
    """One episode in the engine; ``answer_key="real"`` hands the agent the planted issues."""
    env = CodeReviewerEnv(task_name=task)
    observation = env.reset(seed=seed, split="test")
    key = tuple(env.ground_truth()) if answer_key == "real" else answer_key
    agent.begin(observation, EpisodeContext(task_name=task, seed=seed, ground_truth=key))
    while not observation.done:
        action = agent.act(observation)
        if actions is not None:
            actions.append(action)
        observation, _, _, _ = env.step(action)
    return env.get_review_result()


def mean_score(name: str, task: str, seeds: range) -> float:
    return statistics.mean(play(make_agent(name, seed), task, seed, "real" if name == "oracle" else None).completion_score
                           for seed in seeds)


# ---------------------------------------------------------------------- registry


def test_registry_builds_each_agent_by_name() -> None:
    assert {"oracle", "random", "static"} <= set(agent_names())
    for name in ("oracle", "random", "static"):
        agent = make_agent(name, seed=1)
        assert agent.name == name and isinstance(agent, Agent)
    with pytest.raises(ValueError, match="valid agents: .*static"):
        make_agent("clairvoyant")


# ---------------------------------------------------------------------- oracle


@pytest.mark.parametrize("task", TASK_NAMES)
def test_oracle_scores_one_and_succeeds_on_every_task(task: str) -> None:
    result = play(make_agent("oracle"), task, answer_key="real")
    assert (result.completion_score, result.success, result.false_positives) == (1.0, True, 0)


def test_oracle_refuses_to_run_without_the_answer_key() -> None:
    env = CodeReviewerEnv(task_name="syntax_check")
    with pytest.raises(ValueError, match="answer key"):
        make_agent("oracle").begin(env.reset(), EpisodeContext(task_name="syntax_check"))


# ---------------------------------------------------------------------- random


@pytest.mark.parametrize("task", TASK_NAMES)
def test_random_is_blind_scores_below_a_tenth_and_never_succeeds(task: str) -> None:
    scores = []
    for seed in range(100):
        result = play(make_agent("random", seed), task, seed, answer_key=AnswerKeyTrap())
        assert not result.success
        scores.append(result.completion_score)
    assert statistics.mean(scores) < 0.10


def test_random_is_reproducible_and_varies_with_its_seed() -> None:
    def actions(seed: int) -> list:
        taken: list = []
        play(make_agent("random", seed), "security_audit", seed, actions=taken)
        return taken

    assert actions(5) == actions(5)
    assert len({tuple(actions(seed)) for seed in range(10)}) > 1
    lengths = {len(actions(seed)) for seed in range(40)}
    assert min(lengths) <= 3 and max(lengths) >= 20  # submits early or late, by its draw


# ---------------------------------------------------------------------- static


@pytest.mark.parametrize("task", TASK_NAMES)
def test_static_never_reads_the_answer_key_and_gives_the_same_review_without_it(task: str) -> None:
    with_trap, without = [], []
    trapped = play(make_agent("static"), task, answer_key=AnswerKeyTrap(), actions=with_trap)
    plain = play(make_agent("static"), task, answer_key=None, actions=without)
    assert with_trap == without and trapped == plain


@pytest.mark.parametrize("task", [name for name in TASK_NAMES if name != "pr_review"])
def test_static_lies_between_random_and_oracle(task: str) -> None:
    static = mean_score("static", task, range(20))
    random_mean = mean_score("random", task, range(100))
    assert random_mean < static <= mean_score("oracle", task, range(1)) == 1.0


def test_static_finds_next_to_nothing_in_a_pull_request() -> None:
    # A pull request plants only vulnerabilities found by reading, and the static reviewer's
    # logic checks find almost no realistic mutant: like random play, it stays near zero.
    assert mean_score("static", "pr_review", range(20)) < 0.1


def test_static_scores_well_on_syntax() -> None:
    assert mean_score("static", "syntax_check", range(20)) > 0.3


@pytest.mark.parametrize("task", ["security_audit", "full_review"])
def test_static_stays_at_most_half_way_on_security_and_full_review(task: str) -> None:
    # Bandit and taint checks find what one dangerous API gives away, not what needs reading.
    assert mean_score("static", task, range(20)) <= 0.5


def test_static_reports_only_the_task_categories_asks_no_hint_and_submits_last() -> None:
    for task in TASK_NAMES:
        taken: list = []
        result = play(make_agent("static"), task, actions=taken)
        env = CodeReviewerEnv(task_name=task)
        env.reset(seed=0, split="test")
        asked = {planted.issue_type for planted in env.ground_truth()}
        reports, last = taken[:-1], taken[-1]
        assert last.action_type == ActionType.SUBMIT_REVIEW
        assert all(a.action_type == ActionType.IDENTIFY_ISSUE for a in reports)
        assert {a.issue.issue_type for a in reports} <= asked
        assert len({a.issue.line_number for a in reports}) == len(reports)
        assert result.hints_used == 0 and result.duplicates == 0


# ---------------------------------------------------------------------- the checks on their own


def dedent(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def test_syntax_check_finds_successive_errors_once_each() -> None:
    code = dedent("""
        def total(items)
            return sum(item.price for item in items

        def label(item):
            return "price: + str(item.price)

        class Cart:
            def add(self, item):
                if item.count = 0:
                    return
                self.items.append({"id": item.id "count": item.count})
                  self.count += 1
        """)
    found = find_syntax_errors(code)
    assert [issue.line_number for issue in found] == [5, 1, 2, 9, 11, 12]
    assert all(issue.issue_type is IssueType.SYNTAX_ERROR for issue in found)
    fixes = {issue.line_number: issue.suggested_fix for issue in found}
    assert fixes[1] == "def total(items):" and fixes[9] == "if item.count == 0:"
    assert fixes[11] == 'self.items.append({"id": item.id, "count": item.count})'
    assert find_syntax_errors("x = 1\n") == [] and len(find_syntax_errors(code, limit=2)) == 2


def test_syntax_check_gives_up_on_a_line_it_cannot_repair_without_reporting_it_twice() -> None:
    found = find_syntax_errors("x = (1 +\n")
    assert [issue.line_number for issue in found] == [1]


def test_syntax_check_blames_the_line_that_caused_an_error_reported_later() -> None:
    code = dedent("""
        class Plan:
               code: str
            price: int

        def due(plan):
            \"\"\"Days until renewal.
            return days_left(plan.renewal
            \"\"\"Unused.\"\"\"

        def days_left(day):
            \"\"\"Days left.\"\"\"
            for step in range(3)
                if step:
                    continue
            return day
        """)
    # Line 2 sets a deeper indent than its block (the compiler blames line 3), line 6 loses its
    # closing quotes (blamed: line 8), line 7 leaves a bracket open (blamed: the next def).
    found = find_syntax_errors(code)
    assert sorted(issue.line_number for issue in found) == [2, 6, 7, 12]


def test_security_check_maps_bandit_findings_and_adds_taint_checks() -> None:
    code = dedent("""
        import html
        import os
        import pickle
        import subprocess

        def show(request):
            name = html.escape(request["name"])
            message = request.get("message", "")
            safe = f"<p>{name}</p>"
            return safe + "<div>" + message + "</div>"

        def load(request):
            with open(os.path.join("/data", os.path.basename(request["file"]))) as fh:
                cached = fh.read()
            with open(os.path.join("/data", request["file"])) as fh:
                return pickle.loads(fh.read()), cached

        def run(name):
            subprocess.run(f"ls {name}", shell=True)
            return open("/etc/motd").read()
        """)
    found = {issue.line_number: issue for issue in find_vulnerabilities(code)}
    assert sorted(found) == [10, 15, 16, 19]
    assert "CWE-79" in found[10].description and "CWE-22" in found[15].description
    assert "CWE-502" in found[16].description and "B301" in found[16].description
    assert "B602" in found[19].description and found[19].severity.value == "critical"
    assert all(issue.issue_type is IssueType.SECURITY_VULNERABILITY for issue in found.values())
    assert find_vulnerabilities("def broken(:\n") == []


def test_security_check_weighs_context() -> None:
    code = dedent("""
        import html
        import os
        import random

        def delete_user(user, target):
            assert user.is_admin, "admin only"
            assert target.id > 0
            return random.randint(0, 3)

        def reset_code():
            return random.randint(100000, 999999)

        def download(name):
            path = os.path.join("/exports", name)
            with open(path) as fh:
                return fh.read()

        def export(name):
            path = resolve_inside("/exports", name)
            with open(path) as fh:
                return fh.read()

        def table(rows, total):
            body = []
            for email, role in rows:
                cells = f"<td>{email}</td>"
                body.append(f"<tr>{cells}<td>{html.escape(role)}</td></tr>")
            return "<table>" + "".join(body) + f"<td>{total:.2f}</td></table>"
        """)
    found = sorted(issue.line_number for issue in find_vulnerabilities(code))
    # The access assert, the random reset code, the path where it is built, the unescaped cell;
    # not the sanity assert, the jitter, the checked path, the assembled page or the number.
    assert found == [6, 11, 14, 26]


def test_checks_do_not_stumble_on_code_that_warns() -> None:
    # An invalid escape (backslash-d) in a plain string warns when compiled: an error under -W error.
    code = 'import re\n\ndef match(request):\n    return re.match("\\d+", request["x"]) or eval(request["y"])\n'
    assert [issue.line_number for issue in find_vulnerabilities(code)] == [4]
    assert find_syntax_errors(code) == [] and find_logic_bugs(code) == []


def test_logic_check_flags_classic_slips_and_spares_their_correct_twins() -> None:
    code = dedent("""
        def first_bigger(values, limit, minimum, seen=[]):
            for i in range(1, len(values)):
                if values[i] > limit:
                    return values[i]
            for i in range(1, len(values)):
                if values[i] < values[i - 1]:
                    return i
            if limit > minimum:
                return limit
            for value in values:
                if value:
                    return True
                else:
                    return False
            index = 0
            while index <= len(values):
                print(values[index])
            for _ in range(1, limit):
                index *= 2
            schedule = [limit]
            for _ in range(1, limit):
                schedule.append(0)
            return limit >= minimum
        """)
    found = {issue.line_number: issue for issue in find_logic_bugs(code)}
    assert sorted(found) == [1, 2, 8, 11, 15, 16, 18]
    assert "range(1, len(values))" in found[2].description and "Mutable default" in found[1].description
    assert "product `index` starts at 0" in found[15].description


def test_logic_check_flags_lost_returns_bad_starts_and_floats_used_as_indexes() -> None:
    code = dedent("""
        def total(prices, rows):
            \"\"\"Sum of the prices; rows[0] is the header row.\"\"\"
            amount = 1
            count = 1
            for price in prices:
                amount += price
                count += 1
            for i in range(1, len(rows)):
                print(rows[i])
            middle = len(prices) / 2
            half = int(len(prices) / 2)
            prices[middle], prices[half]
            for i in range(len(prices) - 1):
                print(prices[i])
            for i in range(len(prices) - 1):
                print(prices[i + 1] - prices[i])
            amount
        """)
    found = {issue.line_number: issue for issue in find_logic_bugs(code)}
    assert sorted(found) == [3, 10, 12, 13, 17]
    assert "starts at 1" in found[3].description and "true division" in found[10].description
    assert "skips the last element" in found[13].description and "missing return" in found[17].description
    assert all(issue.issue_type is IssueType.LOGIC_BUG for issue in found.values())
