"""Print in-process steps per second of the engine, per task, with a mixed policy, and how fast
it generates new episodes.

Usage: python scripts/bench_engine.py [--seconds 2.0]

The policy mixes true reports, false positives, repeats, hints and submits, so every branch
of the grader is exercised. New episodes are generated for seeds not seen before (the registry
keeps recent ones), after a warm-up of 100 seeds. Runs on one core (a single thread).
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.env import CodeIssue, CodeReviewerAction, CodeReviewerEnv, load_registry  # noqa: E402


def build_actions(env: CodeReviewerEnv, rng: random.Random, count: int) -> list[CodeReviewerAction]:
    truth = env.ground_truth()
    actions = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.5:
            planted = rng.choice(truth)
            line, kind = planted.line_number, planted.issue_type
        elif roll < 0.9:
            line, kind = rng.randint(1, env.episode.line_count), env.task.issue_type
        else:
            actions.append(CodeReviewerAction(action_type="request_hint"))
            continue
        issue = CodeIssue(line_number=line, issue_type=kind, severity=planted_severity(truth, rng),
                          description="benchmark report")
        actions.append(CodeReviewerAction(action_type="identify_issue", issue=issue, confidence=0.5))
    return actions


def planted_severity(truth, rng):  # type: ignore[no-untyped-def]
    return rng.choice(truth).severity


def bench_task(name: str, seconds: float) -> tuple[int, float]:
    rng = random.Random(0)
    env = CodeReviewerEnv(task_name=name)
    env.reset(seed=0)
    pool = build_actions(env, rng, 4096)
    submit = CodeReviewerAction(action_type="submit_review")
    steps, episodes, index = 0, 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        env.reset(seed=episodes)
        episodes += 1
        done = False
        for _ in range(env.task.max_steps):
            action = pool[index % len(pool)]
            index += 1
            if index % 17 == 0:
                action = submit
            _, _, done, _ = env.step(action)
            steps += 1
            if done:
                break
    elapsed = time.perf_counter() - start
    return steps, elapsed


def bench_generation(name: str, seconds: float) -> tuple[int, float]:
    """New episodes of ``name`` generated in ``seconds``, from seeds the registry has not seen."""
    registry = load_registry()
    for seed in range(100):
        registry.episode(name, seed=seed)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        registry.episode(name, seed=1_000_000 + count)
        count += 1
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per task")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, one thread")
    print(f"{'task':<24}{'steps':>10}{'seconds':>10}{'steps/s':>12}{'new episodes/s':>16}{'ms per new':>12}")
    for name in load_registry().names():
        steps, elapsed = bench_task(name, args.seconds)
        episodes, generating = bench_generation(name, args.seconds)
        print(f"{name:<24}{steps:>10}{elapsed:>10.2f}{steps / elapsed:>12,.0f}{episodes / generating:>16,.0f}"
              f"{generating * 1000 / episodes:>12.3f}")


if __name__ == "__main__":
    main()
