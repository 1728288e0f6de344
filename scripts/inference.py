"""Baseline inference: the ``llm`` agent plays one episode and logs it in the original format.

Usage::

    export API_BASE_URL=https://router.huggingface.co/v1   # any OpenAI-compatible API
    export MODEL_NAME=Qwen/Qwen2.5-72B-Instruct
    export HF_TOKEN=hf_...                                 # the API key
    export CODE_REVIEWER_TASK=syntax_check                 # default syntax_check
    python scripts/inference.py                            # in-process engine
    ENV_URL=http://localhost:7860 python scripts/inference.py   # through a server (recorded)

Log: stdout carries exactly these lines, one per event (diagnostics go to stderr)::

    [START] task=<task> env=code-reviewer-env model=<model>
    [STEP] step=<n> action=<action> reward=<reward> done=<true|false> error=<error>
    [END] success=<true|false> steps=<n> rewards=<reward>,<reward>,...

- ``action``: ``identify_issue(line=<n>,type=<issue_type>)``, ``request_hint`` or
  ``submit_review``; rewards have two decimals; booleans are lowercase.
- ``error``: ``null`` when the model chose the action, else a code without spaces:
  ``invalid_reply`` (the reply was not exactly one valid JSON action) or ``api_error`` (the
  request failed); the logged action is then the fallback the agent played instead.
- ``success``: the environment's verdict (completion_score at or above the task's threshold).

Exit status: 0 when the episode finished; 1 when the environment failed mid-episode (the
``[END]`` line is still printed, with ``success=false``); 2 for a configuration error (unknown
task, no ``HF_TOKEN``), reported on stderr before any log line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.agents.base import EpisodeContext  # noqa: E402
from app.agents.llm import LLMAgent  # noqa: E402
from app.client import CodeReviewerClient  # noqa: E402
from app.env import CodeReviewerAction, CodeReviewerEnv, CodeReviewerObservation  # noqa: E402

ENV_NAME = "code-reviewer-env"
DEFAULT_TASK = "syntax_check"


class Episode(Protocol):
    """One episode of the environment, wherever it runs."""

    def reset(self) -> CodeReviewerObservation: ...

    def step(self, action: CodeReviewerAction) -> tuple[CodeReviewerObservation, float, bool]: ...

    def success(self) -> bool: ...

    def close(self) -> None: ...


class LocalEpisode:
    """The engine in this process."""

    def __init__(self, task: str) -> None:
        self.env = CodeReviewerEnv(task_name=task)

    def reset(self) -> CodeReviewerObservation:
        return self.env.reset()

    def step(self, action: CodeReviewerAction) -> tuple[CodeReviewerObservation, float, bool]:
        observation, reward, done, _ = self.env.step(action)
        return observation, reward.step_reward, done

    def success(self) -> bool:
        return self.env.get_review_result().success

    def close(self) -> None:
        pass


class RemoteEpisode:
    """An episode on a server (recorded there), through :class:`app.client.CodeReviewerClient`."""

    def __init__(self, url: str, task: str, model: str) -> None:
        self.client = CodeReviewerClient(url)
        self.task, self.model = task, model

    def reset(self) -> CodeReviewerObservation:
        return self.client.reset(task=self.task, agent=LLMAgent.name, model=self.model).observation

    def step(self, action: CodeReviewerAction) -> tuple[CodeReviewerObservation, float, bool]:
        result = self.client.step(action)
        if result.reward is None:
            raise RuntimeError("the server answered a step without a reward")
        return result.observation, result.reward, result.done

    def success(self) -> bool:
        return self.client.result().success

    def close(self) -> None:
        self.client.close()


def format_action(action: CodeReviewerAction) -> str:
    """``identify_issue(line=5,type=syntax_error)``, ``request_hint`` or ``submit_review``."""
    action = action.normalized()
    if action.issue is None:
        return action.action_type.value
    return f"{action.action_type.value}(line={action.issue.line_number},type={action.issue.issue_type.value})"


def format_reward(value: float) -> str:
    """Two decimals; ``+ 0.0`` turns a negative zero into ``0.00``."""
    return f"{value + 0.0:.2f}"


def log(line: str) -> None:
    print(line, flush=True)


def run_episode(episode: Episode, agent: LLMAgent, task: str) -> int:
    """Play one episode, logging each event; return the exit status."""
    log(f"[START] task={task} env={ENV_NAME} model={agent.model}")
    rewards: list[str] = []
    finished = success = False
    try:
        observation = episode.reset()
        agent.begin(observation, EpisodeContext(task_name=task))
        done = observation.done
        while not done:
            action = agent.act(observation)
            observation, reward, done = episode.step(action)
            rewards.append(format_reward(reward))
            log(f"[STEP] step={len(rewards)} action={format_action(action)} reward={rewards[-1]} "
                f"done={str(done).lower()} error={agent.last_error or 'null'}")
        success = episode.success()
        finished = True
    except Exception as exc:  # noqa: BLE001 - the log must end with [END] whatever failed
        print(f"environment error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
    finally:
        episode.close()
    log(f"[END] success={str(success).lower()} steps={len(rewards)} rewards={','.join(rewards)}")
    if agent.invalid_replies or agent.api_errors:
        print(f"invalid replies: {agent.invalid_replies}, API errors: {agent.api_errors}", file=sys.stderr)
    if rewards and agent.api_errors == len(rewards):
        # The episode ended on the agent's fallback actions alone: no model was evaluated.
        print("model error: every request to the model API failed", file=sys.stderr)
        return 1
    return 0 if finished else 1


def main() -> int:
    task = os.environ.get("CODE_REVIEWER_TASK") or DEFAULT_TASK
    env_url = os.environ.get("ENV_URL")
    try:
        agent = LLMAgent()
        episode: Episode = RemoteEpisode(env_url, task, agent.model) if env_url else LocalEpisode(task)
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return run_episode(episode, agent, task)


if __name__ == "__main__":
    sys.exit(main())
