"""The reward contract, rule by rule."""

from __future__ import annotations

import pytest

from app.env import (
    CodeIssue,
    CodeReviewerAction,
    CodeReviewerEnv,
    EpisodeFinished,
    InvalidAction,
    IssueType,
    Severity,
    load_registry,
)

from conftest import HINT, SUBMIT, report

TASK_TABLE = {
    # task: (difficulty, planted issues, max_steps, threshold, category)
    "syntax_check": ("easy", 7, 15, 0.70, IssueType.SYNTAX_ERROR),
    "logic_bug_detection": ("medium", 3, 18, 0.70, IssueType.LOGIC_BUG),
    "security_audit": ("hard", 9, 25, 0.70, IssueType.SECURITY_VULNERABILITY),
}
SEVERITY_VALUE = {"low": 0.2, "medium": 0.3, "high": 0.4, "critical": 0.5}


def clean_line(env: CodeReviewerEnv) -> int:
    """A line that no planted issue accepts and no decoy sits on."""
    taken = {n for issue in env.ground_truth() for n in issue.accepted_lines}
    taken |= {decoy.line_number for decoy in env.decoys()}
    return next(n for n in range(1, 500) if n not in taken)


@pytest.mark.parametrize("name", sorted(TASK_TABLE))
def test_tasks_keep_the_original_numbers(name: str) -> None:
    difficulty, count, max_steps, threshold, category = TASK_TABLE[name]
    env = CodeReviewerEnv(task_name=name)
    obs = env.reset()
    assert (obs.task_difficulty, obs.max_steps) == (difficulty, max_steps)
    assert obs.info["expected_issue_count"] == count == len(env.ground_truth())
    assert env.task.success_threshold == threshold
    assert all(issue.issue_type is category for issue in env.ground_truth())
    assert all(issue.cwe for issue in env.ground_truth()) == (category is IssueType.SECURITY_VULNERABILITY)


def test_unknown_task_names_the_valid_ones() -> None:
    with pytest.raises(ValueError) as excinfo:
        CodeReviewerEnv(task_name="spelling_check")
    for name in TASK_TABLE:
        assert name in str(excinfo.value)


def test_reset_observation(env: CodeReviewerEnv) -> None:
    obs = env.reset(seed=3, episode_id="ep-1")
    assert obs.reward is None and obs.step_number == 0 and not obs.done
    assert obs.previous_issues == [] and obs.hint_available and obs.hint_text is None
    assert obs.code_snippet.language == "python" and obs.code_snippet.code
    assert obs.task_name == env.task_name and obs.task_description
    assert obs.info["issues_found"] == 0 and obs.info["hints_remaining"] == 3
    assert env.state["episode_id"] == "ep-1" and env.state["step_count"] == 0


def test_match_earns_the_planted_severity_not_the_reported_one(env: CodeReviewerEnv) -> None:
    planted = env.ground_truth()[0]
    obs, reward, done, info = env.step(report(planted.line_number, planted.issue_type, severity="low"))
    assert reward.step_reward == SEVERITY_VALUE[planted.severity.value]
    assert reward.breakdown == {"issue_found": SEVERITY_VALUE[planted.severity.value]}
    assert obs.feedback.startswith("Correct")
    assert info["issues_found"] == 1 and not done
    assert obs.previous_issues[0].line_number == planted.line_number


def test_every_accepted_line_counts_and_no_other(env: CodeReviewerEnv) -> None:
    for planted in env.ground_truth():
        for line in planted.accepted_lines:
            probe = CodeReviewerEnv(task_name=env.task_name)
            probe.reset()
            _, reward, _, _ = probe.step(report(line, planted.issue_type))
            assert reward.step_reward > 0
    all_accepted = {n for p in env.ground_truth() for n in p.accepted_lines}
    for planted in env.ground_truth():
        for line in (min(planted.accepted_lines) - 1, max(planted.accepted_lines) + 1):
            if line in all_accepted or line < 1:
                continue
            probe = CodeReviewerEnv(task_name=env.task_name)
            probe.reset()
            _, reward, _, _ = probe.step(report(line, planted.issue_type))
            assert reward.step_reward == -0.15, f"line {line} next to {planted.id} must not count"


def test_false_positive_and_wrong_category(env: CodeReviewerEnv) -> None:
    planted = env.ground_truth()[0]
    _, reward, _, info = env.step(report(clean_line(env), planted.issue_type))
    assert reward.step_reward == -0.15 and reward.breakdown == {"false_positive": -0.15}
    other_type = next(t for t in IssueType if t is not planted.issue_type)
    obs, reward, _, info = env.step(report(planted.line_number, other_type))
    assert reward.step_reward == -0.15
    assert obs.feedback == f"No {other_type.value} on line {planted.line_number}."
    assert info["false_positives"] == 2 and info["issues_found"] == 0


def test_repeating_a_true_issue_earns_once(env: CodeReviewerEnv) -> None:
    planted = env.ground_truth()[0]
    rewards = [env.step(report(planted.line_number, planted.issue_type))[1].step_reward for _ in range(4)]
    assert rewards[0] == SEVERITY_VALUE[planted.severity.value]
    assert rewards[1:] == [-0.15, -0.15, -0.15]
    result = env.get_review_result()
    assert result.found == 1 and result.duplicates == 3
    assert result.precision == 0.25  # duplicates count as reports


def test_a_report_matches_at_most_one_planted_issue(env: CodeReviewerEnv) -> None:
    env.step(report(env.ground_truth()[0].line_number, env.ground_truth()[0].issue_type))
    assert env.get_review_result().found == 1


def test_submitting_at_once_scores_zero_and_earns_nothing(env: CodeReviewerEnv) -> None:
    obs, reward, done, _ = env.step(SUBMIT)
    assert done and obs.done
    assert reward.step_reward == 0.0
    assert reward.breakdown == {"completeness_bonus": 0.0}
    result = env.get_review_result()
    assert result.completion_score == 0.0 and not result.success
    assert len(result.missed_issues) == result.expected


def test_step_after_the_end_raises(env: CodeReviewerEnv) -> None:
    env.step(SUBMIT)
    with pytest.raises(EpisodeFinished):
        env.step(SUBMIT)


def test_oracle_submit_earns_completeness_and_efficiency(env: CodeReviewerEnv) -> None:
    for planted in env.ground_truth():
        env.step(report(planted.line_number, planted.issue_type))
    _, reward, done, _ = env.step(SUBMIT)
    unused = env.task.max_steps - (len(env.ground_truth()) + 1)
    assert done
    assert reward.breakdown == {"completeness_bonus": 0.5, "efficiency_bonus": round(0.02 * unused, 6)}
    result = env.get_review_result()
    assert result.completion_score == 1.0 and result.success and result.missed_issues == []
    expected_total = sum(SEVERITY_VALUE[p.severity.value] for p in env.ground_truth()) + 0.5 + 0.02 * unused
    assert result.total_reward == pytest.approx(expected_total)


def test_no_efficiency_bonus_without_success(env: CodeReviewerEnv) -> None:
    planted = env.ground_truth()[0]
    env.step(report(planted.line_number, planted.issue_type))
    _, reward, _, _ = env.step(SUBMIT)
    assert not env.get_review_result().success
    assert "efficiency_bonus" not in reward.breakdown
    assert reward.breakdown["completeness_bonus"] > 0


def test_running_out_of_steps_ends_with_completeness_only(env: CodeReviewerEnv) -> None:
    issues = env.ground_truth()
    for planted in issues:
        env.step(report(planted.line_number, planted.issue_type))
    line = clean_line(env)
    done = False
    while not done:
        obs, reward, done, _ = env.step(HINT if obs_hint_left(env) else report(line, issues[0].issue_type))
    assert env.state["step_count"] == env.task.max_steps
    assert "completeness_bonus" in reward.breakdown and "efficiency_bonus" not in reward.breakdown
    assert reward.breakdown["completeness_bonus"] == 0.5
    assert "Out of steps" in obs.feedback


def obs_hint_left(env: CodeReviewerEnv) -> bool:
    return env.observation().info["hints_remaining"] > 0


def test_hints_cost_point_zero_five_and_run_out(env: CodeReviewerEnv) -> None:
    issues = env.ground_truth()
    for n in range(1, 4):
        obs, reward, _, info = env.step(HINT)
        assert reward.step_reward == -0.05 and reward.breakdown == {"hint_penalty": -0.05}
        assert info["hints_remaining"] == 3 - n
        words = obs.hint_text.split()
        start, end = int(words[-3]), int(words[-1].rstrip("."))
        assert end - start == 4
        assert any(
            p.issue_type.value in obs.hint_text and start <= p.line_number <= end for p in issues
        )
    assert not obs.hint_available
    obs, reward, _, _ = env.step(HINT)
    assert reward.step_reward == -0.05 and obs.feedback == "No hints left."
    for planted in issues:
        env.step(report(planted.line_number, planted.issue_type))
    env.step(SUBMIT)
    result = env.get_review_result()
    assert result.hints_used == 3
    assert result.f1 == 1.0 and result.completion_score == pytest.approx(0.85)


def test_hints_point_only_at_unfound_issues(env: CodeReviewerEnv) -> None:
    issues = env.ground_truth()
    for planted in issues[:-1]:
        env.step(report(planted.line_number, planted.issue_type))
    last = issues[-1]
    obs, _, _, _ = env.step(HINT)
    words = obs.hint_text.split()
    assert int(words[-3]) <= last.line_number <= int(words[-1].rstrip("."))


@pytest.mark.parametrize(
    "action, message",
    [
        (CodeReviewerAction(action_type="fix_everything"), "action_type"),
        (CodeReviewerAction(action_type="identify_issue"), "requires an issue"),
        (CodeReviewerAction(action_type="identify_issue", issue=CodeIssue(
            line_number=0, issue_type=IssueType.LOGIC_BUG, severity=Severity.LOW)), "line_number"),
        (CodeReviewerAction(action_type="request_hint", confidence=1.5), "confidence"),
        (CodeReviewerAction(action_type="identify_issue", confidence=-0.1, issue=CodeIssue(
            line_number=3, issue_type=IssueType.LOGIC_BUG, severity=Severity.LOW)), "confidence"),
        (CodeReviewerAction(action_type="identify_issue", issue=CodeIssue(
            line_number=3, issue_type=IssueType.LOGIC_BUG, severity=Severity.LOW,
            description="x" * 2001)), "description"),
    ],
)
def test_malformed_actions_change_nothing(env: CodeReviewerEnv, action: CodeReviewerAction, message: str) -> None:
    before = env.snapshot()
    with pytest.raises(InvalidAction, match=message):
        env.step(action)
    assert env.snapshot() == before


@pytest.mark.parametrize(
    "payload, message",
    [
        ({}, "action_type"),
        ({"action_type": "identify_issue", "issue": {"line_number": 3, "issue_type": "typo", "severity": "low"}}, "issue_type"),
        ({"action_type": "identify_issue", "issue": {"line_number": "3", "issue_type": "logic_bug", "severity": "low"}}, "line_number"),
        ({"action_type": "identify_issue", "issue": {"issue_type": "logic_bug", "severity": "low"}}, "line_number"),
        ({"action_type": "identify_issue", "issue": {"line_number": 2, "issue_type": "logic_bug", "severity": "huge"}}, "severity"),
        ({"action_type": "request_hint", "confidence": True}, "confidence"),
    ],
)
def test_action_from_dict_rejects_bad_payloads(payload: dict, message: str) -> None:
    with pytest.raises(InvalidAction, match=message):
        CodeReviewerAction.from_dict(payload)


def test_action_from_dict_accepts_openenv_metadata() -> None:
    action = CodeReviewerAction.from_dict({"action_type": "submit_review", "metadata": {}})
    assert action.action_type.value == "submit_review"


def test_missed_issues_hidden_until_done(env: CodeReviewerEnv) -> None:
    assert env.get_review_result().missed_issues == []
    env.step(SUBMIT)
    assert len(env.get_review_result().missed_issues) == len(env.ground_truth())


def test_decoy_reports_are_counted_false_positives() -> None:
    env = CodeReviewerEnv(task_name="security_audit")
    env.reset()
    decoy = env.decoys()[0]
    _, reward, _, _ = env.step(report(decoy.line_number, IssueType.SECURITY_VULNERABILITY))
    assert reward.step_reward == -0.15
    assert env.get_review_result().decoys_flagged == 1


def test_a_generated_episode_is_described_with_its_own_module() -> None:
    registry = load_registry()
    for task in registry.tasks():
        canonical_file = task.canonical.snippet.file_name if task.canonical else None
        for seed in range(6):
            for split in ("train", "test"):
                env = CodeReviewerEnv(task.name)
                observation = env.reset(seed=seed, split=split)
                assert registry.generator is not None
                title = next(
                    module.title for module in registry.generator.modules if module.name == env.episode.origin)
                assert observation.code_snippet.file_name in observation.task_description
                assert str(title) in observation.task_description
                if canonical_file and canonical_file != observation.code_snippet.file_name:
                    assert canonical_file not in observation.task_description
        # The canonical snippet keeps the description written for it.
        if task.canonical is not None:
            assert CodeReviewerEnv(task.name).reset().task_description == task.description
