"""The code-review environment: ``reset`` / ``step`` over a snippet with planted issues.

The reward contract (see README.md) in brief:

* a report that matches a not-yet-found planted issue (same ``issue_type``, line among its
  accepted lines) earns the planted issue's severity value (0.2 / 0.3 / 0.4 / 0.5);
* any other report (false positive, duplicate) costs 0.15;
* a hint request costs 0.05;
* ``submit_review`` earns 0.5 x severity-weighted recall, plus 0.02 per unused step only when
  the review succeeds; running out of steps earns the recall part only.

Matching is one-to-one and everything is deterministic: rewards depend only on the task,
seed, split and the actions, never on time, hash seeds or set ordering.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from app.env.models import (
    ActionType,
    CodeIssue,
    CodeReviewerAction,
    CodeReviewerObservation,
    CodeReviewerReward,
    Decoy,
    EpisodeFinished,
    EpisodeSpec,
    InvalidAction,
    PlantedIssue,
    ReviewResult,
)
from app.env.tasks import DEFAULT_SPLIT, TaskRegistry, TaskSpec, load_registry

FALSE_POSITIVE_PENALTY = -0.15
DUPLICATE_PENALTY = -0.15
HINT_PENALTY = -0.05
COMPLETENESS_WEIGHT = 0.5
EFFICIENCY_PER_STEP = 0.02
HINT_SCORE_PENALTY = 0.05
HINT_WINDOW = 5
SNAPSHOT_VERSION = 1

# Outcomes recorded per report, in order; also the ``last_outcome`` of ``info``.
MATCH = "match"
FALSE_POSITIVE = "false_positive"
DUPLICATE = "duplicate"


def _round(value: float) -> float:
    # Rewards are sums of a few decimal constants; rounding hides binary noise such as
    # 0.30000000000000004 without changing any comparison the contract makes.
    return round(value, 6)


@dataclass
class _EpisodeState:
    """Mutable progress of one episode; everything here goes into a snapshot."""

    episode_id: str
    step_number: int = 0
    done: bool = False
    submitted: bool = False
    reports: list[CodeIssue] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    found: dict[str, int] = field(default_factory=dict)  # planted id -> step it was found
    false_positives: int = 0
    duplicates: int = 0
    decoys_flagged: int = 0
    hints_used: int = 0
    hint_requests: int = 0
    hint_text: Optional[str] = None
    cumulative_reward: float = 0.0
    last_reward: Optional[float] = None
    last_outcome: Optional[str] = None
    feedback: str = ""


class CodeReviewerEnv:
    """Code-review environment with the Gymnasium-style ``reset`` / ``step`` API.

    Example:
        >>> env = CodeReviewerEnv(task_name="syntax_check")
        >>> obs = env.reset()
        >>> obs.max_steps
        15

    Args:
        task_name: One of the registered tasks (``syntax_check``, ``logic_bug_detection``,
            ``security_audit``, ...).
        registry: Task registry to read from; the default loads ``tasks/``.

    Raises:
        ValueError: for an unknown task; the message names the valid ones.
    """

    def __init__(self, task_name: str = "syntax_check", registry: Optional[TaskRegistry] = None) -> None:
        self.registry = registry if registry is not None else load_registry()
        self.task: TaskSpec = self.registry.get(task_name)
        self._spec: Optional[EpisodeSpec] = None
        self._state: Optional[_EpisodeState] = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def task_name(self) -> str:
        """Name of the task this environment serves."""
        return self.task.name

    def reset(
        self,
        seed: Optional[int] = None,
        episode_id: Optional[str] = None,
        split: str = DEFAULT_SPLIT,
    ) -> CodeReviewerObservation:
        """Start a new episode.

        Args:
            seed: Selects the episode; ``None`` serves the task's canonical snippet.
            episode_id: Identifier to echo in the state; a UUID is made when absent.
            split: ``train``, ``validation``, ``test`` or ``holdout``.

        Returns:
            The first observation (``reward`` is ``None``).

        Raises:
            ValueError: unknown split, or a seed that is not an integer.
        """
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer")
        self._spec = self.registry.episode(self.task.name, seed=seed, split=split)
        self._state = _EpisodeState(episode_id=episode_id or str(uuid.uuid4()))
        self._state.feedback = "Episode started: review the code and report each issue."
        return self._observation()

    def step(
        self, action: CodeReviewerAction
    ) -> tuple[CodeReviewerObservation, CodeReviewerReward, bool, dict[str, Any]]:
        """Apply one action.

        Args:
            action: ``identify_issue`` (with ``issue``), ``request_hint`` or ``submit_review``.

        Returns:
            ``(observation, reward, done, info)``.

        Raises:
            InvalidAction: the action breaks the contract; nothing changes.
            EpisodeFinished: the episode already ended.
            RuntimeError: ``reset`` was never called.
        """
        spec, state = self._require_episode()
        if state.done:
            raise EpisodeFinished("the episode has ended; call reset() to start a new one")
        if not isinstance(action, CodeReviewerAction):
            raise InvalidAction("action must be a CodeReviewerAction")
        action = action.normalized()

        state.step_number += 1
        breakdown: dict[str, float] = {}
        if action.action_type is ActionType.IDENTIFY_ISSUE:
            assert action.issue is not None  # guaranteed by normalized()
            self._grade_report(spec, state, action.issue, breakdown)
        elif action.action_type is ActionType.REQUEST_HINT:
            self._give_hint(spec, state, breakdown)
        else:
            state.submitted = True
            state.done = True
            state.last_outcome = "submit"
            self._add_final_bonus(state, breakdown, submitted=True)

        if not state.done and state.step_number >= self.task.max_steps:
            state.done = True
            self._add_final_bonus(state, breakdown, submitted=False)
            state.feedback += " Out of steps: the review was scored as it stands."

        step_reward = _round(sum(breakdown.values()))
        state.cumulative_reward = _round(state.cumulative_reward + step_reward)
        state.last_reward = step_reward
        reward = CodeReviewerReward(
            step_reward=step_reward,
            cumulative_reward=state.cumulative_reward,
            breakdown=breakdown,
        )
        observation = self._observation()
        return observation, reward, state.done, observation.info

    # ------------------------------------------------------------------ grading

    def _grade_report(
        self, spec: EpisodeSpec, state: _EpisodeState, issue: CodeIssue, breakdown: dict[str, float]
    ) -> None:
        line, kind = issue.line_number, issue.issue_type
        label = f"{kind.value} on line {line}"
        repeated = any(r.line_number == line and r.issue_type is kind for r in state.reports)
        candidates = [
            planted for planted in spec.issues
            if planted.issue_type is kind and line in planted.accepted_lines
        ]
        unfound = [planted for planted in candidates if planted.id not in state.found]
        state.reports.append(issue)
        if unfound:
            # Prefer the issue whose faulty line was named, then the most severe: a report
            # matches at most one planted issue.
            match = min(
                unfound,
                key=lambda p: (p.line_number != line, -p.severity.value_points, p.id),
            )
            state.found[match.id] = state.step_number
            state.outcomes.append(MATCH)
            state.last_outcome = MATCH
            breakdown["issue_found"] = match.severity.value_points
            state.feedback = f"Correct: {label} ({match.severity.value} severity)."
        elif candidates or repeated:
            state.duplicates += 1
            state.outcomes.append(DUPLICATE)
            state.last_outcome = DUPLICATE
            breakdown["duplicate"] = DUPLICATE_PENALTY
            state.feedback = f"Already reported: {label}."
        else:
            state.false_positives += 1
            if any(decoy.line_number == line for decoy in spec.decoys):
                state.decoys_flagged += 1
            state.outcomes.append(FALSE_POSITIVE)
            state.last_outcome = FALSE_POSITIVE
            breakdown["false_positive"] = FALSE_POSITIVE_PENALTY
            state.feedback = f"No {label}."

    def _give_hint(self, spec: EpisodeSpec, state: _EpisodeState, breakdown: dict[str, float]) -> None:
        state.hint_requests += 1
        state.last_outcome = "hint"
        breakdown["hint_penalty"] = HINT_PENALTY
        unfound = [planted for planted in spec.issues if planted.id not in state.found]
        if state.hints_used >= self.task.max_hints:
            state.feedback = "No hints left."
            return
        if not unfound:
            state.feedback = "No hint: every planted issue has been found."
            return
        # A string seed makes random.Random hash it with SHA-512: stable in every process.
        rng = random.Random(f"{spec.random_stream}|{state.hints_used}")
        target = unfound[rng.randrange(len(unfound))]
        line_count = spec.line_count
        start = max(1, target.line_number - rng.randrange(HINT_WINDOW))
        end = min(line_count, start + HINT_WINDOW - 1)
        start = max(1, end - HINT_WINDOW + 1)
        state.hints_used += 1
        state.hint_text = (
            f"There is a {target.issue_type.value} between lines {start} and {end}."
        )
        state.feedback = f"Hint {state.hints_used} of {self.task.max_hints}: {state.hint_text}"

    def _add_final_bonus(self, state: _EpisodeState, breakdown: dict[str, float], submitted: bool) -> None:
        result = self.get_review_result()
        breakdown["completeness_bonus"] = _round(COMPLETENESS_WEIGHT * result.recall)
        if submitted and result.success:
            unused = self.task.max_steps - state.step_number
            breakdown["efficiency_bonus"] = _round(EFFICIENCY_PER_STEP * unused)
        verdict = "succeeded" if result.success else "did not reach the threshold"
        state.feedback = (
            f"Review {'submitted' if submitted else 'closed'}: score {result.completion_score:.2f}, "
            f"{verdict}."
        )

    # ------------------------------------------------------------------ views

    def get_review_result(self) -> ReviewResult:
        """Score the episode as it stands (final once it is done).

        ``missed_issues`` stays empty until the episode is done, so the answer key is never
        revealed to a running agent.
        """
        spec, state = self._require_episode()
        total_value = sum(p.severity.value_points for p in spec.issues)
        found_value = sum(p.severity.value_points for p in spec.issues if p.id in state.found)
        reports = len(state.reports)
        true_positives = len(state.found)
        if spec.issues:
            precision = true_positives / reports if reports else 0.0
            recall = found_value / total_value if total_value else 0.0
        else:
            # Nothing planted (a pull request may introduce no issue): nothing to find, so full
            # recall, and every report is a false positive.
            precision, recall = (0.0 if reports else 1.0), 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        score = min(1.0, max(0.0, f1 - HINT_SCORE_PENALTY * state.hints_used))
        score = _round(score)
        matched = [p for p in spec.issues if p.id in state.found]
        missed = [p for p in spec.issues if p.id not in state.found] if state.done else []
        return ReviewResult(
            task_name=spec.task_name,
            completion_score=score,
            success=score >= self.task.success_threshold,
            precision=_round(precision),
            recall=_round(recall),
            f1=_round(f1),
            found=true_positives,
            expected=len(spec.issues),
            false_positives=state.false_positives,
            duplicates=state.duplicates,
            decoys_flagged=state.decoys_flagged,
            hints_used=state.hints_used,
            steps_used=state.step_number,
            total_reward=state.cumulative_reward,
            done=state.done,
            matched_issues=matched,
            missed_issues=missed,
        )

    def ground_truth(self) -> list[PlantedIssue]:
        """The planted issues of the current episode (for oracles, verification and replay)."""
        spec, _ = self._require_episode()
        return list(spec.issues)

    def decoys(self) -> list[Decoy]:
        """The safe look-alikes of the current episode; reporting one is a false positive."""
        spec, _ = self._require_episode()
        return list(spec.decoys)

    @property
    def episode(self) -> EpisodeSpec:
        """The current episode's code and answer key."""
        spec, _ = self._require_episode()
        return spec

    @property
    def state(self) -> dict[str, Any]:
        """OpenEnv-style state: ``episode_id`` and ``step_count`` plus the episode's identity."""
        spec, state = self._require_episode()
        return {
            "episode_id": state.episode_id,
            "step_count": state.step_number,
            "task_name": spec.task_name,
            "seed": spec.seed,
            "split": spec.split,
            "done": state.done,
            "cumulative_reward": state.cumulative_reward,
        }

    def observation(self) -> CodeReviewerObservation:
        """The current observation (the same as the last one returned)."""
        self._require_episode()
        return self._observation()

    def _observation(self) -> CodeReviewerObservation:
        spec, state = self._spec, self._state
        assert spec is not None and state is not None
        hints_remaining = max(0, self.task.max_hints - state.hints_used)
        return CodeReviewerObservation(
            code_snippet=spec.snippet,
            diff=spec.diff,
            task_name=spec.task_name,
            task_description=self.task.describe(spec),
            task_difficulty=self.task.difficulty,
            step_number=state.step_number,
            max_steps=self.task.max_steps,
            previous_issues=list(state.reports),
            hint_available=hints_remaining > 0 and not state.done,
            hint_text=state.hint_text,
            done=state.done,
            reward=state.last_reward,
            feedback=state.feedback,
            info={
                "episode_id": state.episode_id,
                "expected_issue_count": None if self.task.pull_request is not None else len(spec.issues),
                "issues_found": len(state.found),
                "false_positives": state.false_positives,
                "duplicates": state.duplicates,
                "hints_remaining": hints_remaining,
                "steps_remaining": self.task.max_steps - state.step_number,
                "last_outcome": state.last_outcome,
            },
        )

    def _require_episode(self) -> tuple[EpisodeSpec, _EpisodeState]:
        if self._spec is None or self._state is None:
            raise RuntimeError("call reset() before using the environment")
        return self._spec, self._state

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> dict[str, Any]:
        """Return the episode's full state as JSON-ready data.

        ``CodeReviewerEnv.restore(snapshot)`` continues the episode exactly where it was. The
        code itself is not stored, only a digest: it is regenerated from (task, seed, split).
        """
        spec, state = self._require_episode()
        return {
            "version": SNAPSHOT_VERSION,
            "task_name": spec.task_name,
            "seed": spec.seed,
            "split": spec.split,
            "code_digest": spec.snippet.digest,
            "episode_id": state.episode_id,
            "step_number": state.step_number,
            "done": state.done,
            "submitted": state.submitted,
            "reports": [issue.to_dict() for issue in state.reports],
            "outcomes": list(state.outcomes),
            "found": dict(state.found),
            "false_positives": state.false_positives,
            "duplicates": state.duplicates,
            "decoys_flagged": state.decoys_flagged,
            "hints_used": state.hints_used,
            "hint_requests": state.hint_requests,
            "hint_text": state.hint_text,
            "cumulative_reward": state.cumulative_reward,
            "last_reward": state.last_reward,
            "last_outcome": state.last_outcome,
            "feedback": state.feedback,
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any], registry: Optional[TaskRegistry] = None) -> "CodeReviewerEnv":
        """Rebuild an environment from ``snapshot()`` output.

        Raises:
            ValueError: unknown snapshot version or task, or the task's code changed since
                the snapshot was taken.
        """
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {snapshot.get('version')!r}")
        env = cls(task_name=snapshot["task_name"], registry=registry)
        spec = env.registry.episode(env.task.name, seed=snapshot["seed"], split=snapshot["split"])
        if spec.snippet.digest != snapshot["code_digest"]:
            raise ValueError("the task's code changed since this snapshot was taken")
        env._spec = spec
        env._state = _EpisodeState(
            episode_id=snapshot["episode_id"],
            step_number=int(snapshot["step_number"]),
            done=bool(snapshot["done"]),
            submitted=bool(snapshot["submitted"]),
            reports=[CodeIssue.from_dict(item) for item in snapshot["reports"]],
            outcomes=list(snapshot["outcomes"]),
            found={str(k): int(v) for k, v in snapshot["found"].items()},
            false_positives=int(snapshot["false_positives"]),
            duplicates=int(snapshot["duplicates"]),
            decoys_flagged=int(snapshot["decoys_flagged"]),
            hints_used=int(snapshot["hints_used"]),
            hint_requests=int(snapshot["hint_requests"]),
            hint_text=snapshot["hint_text"],
            cumulative_reward=float(snapshot["cumulative_reward"]),
            last_reward=snapshot["last_reward"],
            last_outcome=snapshot["last_outcome"],
            feedback=str(snapshot["feedback"]),
        )
        return env
