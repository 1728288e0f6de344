"""The generated corpus: deterministic, diverse, split-disjoint, proven, with decoys."""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
import textwrap

import pytest

from app.corpus.verify import VerificationReport, module_of, verify_episode
from app.env import CodeReviewerEnv, IssueType, load_registry
from app.env.corpus.operators import OPERATORS_BY_NAME
from app.env.tasks import SPLITS

from conftest import ROOT, SUBMIT, report
from test_engine_policies import play_blind

REGISTRY = load_registry()
GENERATOR = REGISTRY.generator
MODULES = {module.name: module for module in GENERATOR.modules}
TASKS = REGISTRY.names()


def digest(episode) -> str:  # type: ignore[no-untyped-def]
    key = json.dumps([issue.to_dict() for issue in episode.issues] + [d.to_dict() for d in episode.decoys])
    return hashlib.sha256((episode.snippet.code + key).encode()).hexdigest()


def test_catalogue_matches_the_modules() -> None:
    """verified.json was produced from the modules as they are (re-run verify-tasks --catalogue)."""
    from app.corpus.verify import operators_fingerprint

    assert len(MODULES) >= 30
    document = json.loads((GENERATOR.modules[0].folder.parent / "verified.json").read_text())
    assert document["operators"] == operators_fingerprint(), "operators changed: re-run verify-tasks --catalogue"
    for module in MODULES.values():
        entry = GENERATOR.catalogue.modules.get(module.name)
        assert entry is not None and entry["digest"] == module.digest, f"{module.name}: catalogue is stale"
        assert 40 <= len(module.lines) <= 120, module.name


def test_base_modules_are_split_into_disjoint_sets() -> None:
    splits = {split: {m.name for m in MODULES.values() if m.split == split} for split in SPLITS}
    assert all(splits.values()) and not (splits["train"] & splits["test"])
    for name in TASKS:
        sizes = REGISTRY.split_sizes(name)
        assert all(sizes[split] >= 1 for split in SPLITS), (name, sizes)


@pytest.mark.parametrize("name", TASKS)
def test_seed_omitted_keeps_the_canonical_snippet(name: str) -> None:
    task = REGISTRY.get(name)
    if task.canonical is not None:
        assert REGISTRY.episode(name) is task.canonical
    assert REGISTRY.episode(name, seed=1).snippet.code != (task.canonical.snippet.code if task.canonical else "")


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("split", SPLITS)
def test_generated_episodes_have_the_tasks_shape(name: str, split: str) -> None:
    task = REGISTRY.get(name)
    for seed in range(25):
        episode = REGISTRY.episode(name, seed=seed, split=split)
        assert MODULES[episode.origin].split == split
        assert len(episode.issues) == task.expected_issue_count
        kinds = {kind: sum(1 for i in episode.issues if i.issue_type is kind) for kind, _ in task.mix}
        assert kinds == dict(task.mix)
        lines = episode.snippet.code.split("\n")
        for issue in episode.issues:
            operator = OPERATORS_BY_NAME[issue.kind]
            assert split in {s for v in operator.variants for s in v.splits}
            assert lines[issue.line_number - 1] != issue.fix
            assert issue.line_number in issue.accepted_lines and (issue.cwe is not None) == (
                issue.issue_type is IssueType.SECURITY_VULNERABILITY)
        if any(kind is not IssueType.SYNTAX_ERROR for kind, _ in task.mix):
            assert episode.decoys, f"{name} seed {seed}: no decoy"
            planted = {n for issue in episode.issues for n in issue.accepted_lines}
            assert not planted & {d.line_number for d in episode.decoys}


def test_held_out_variants_never_appear_in_train() -> None:
    held_out = {(op.name, v.name) for op in OPERATORS_BY_NAME.values() for v in op.variants if "train" not in v.splits}
    assert held_out
    for name in TASKS:
        for seed in range(40):
            episode = REGISTRY.episode(name, seed=seed, split="train")
            lines = episode.snippet.code.split("\n")
            for issue in episode.issues:
                operator = OPERATORS_BY_NAME[issue.kind]
                produced = {v.name for v in operator.variants if v.rewrite(issue.fix) == lines[issue.line_number - 1]}
                assert any((issue.kind, v) not in held_out for v in produced), (name, seed, issue.kind)


def test_generation_is_deterministic_across_processes() -> None:
    script = textwrap.dedent("""
        import hashlib, json, sys
        sys.path.insert(0, sys.argv[1])
        from app.env import load_registry
        registry = load_registry()
        out = hashlib.sha256()
        for name in registry.names():
            for split in ("train", "validation", "test"):
                for seed in (0, 1, 77, 123456):
                    episode = registry.episode(name, seed=seed, split=split)
                    out.update(episode.snippet.code.encode())
                    out.update(json.dumps([i.to_dict() for i in episode.issues]).encode())
                    out.update(json.dumps([d.to_dict() for d in episode.decoys]).encode())
        print(out.hexdigest())
    """)
    digests = {
        subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout.strip()
        for seed in ("0", "1", "999")
    }
    assert len(digests) == 1


@pytest.mark.parametrize("name", TASKS)
def test_seeds_give_distinct_episodes(name: str) -> None:
    codes = {REGISTRY.episode(name, seed=seed).snippet.code for seed in range(300)}
    assert len(codes) >= 295


@pytest.mark.parametrize("name", TASKS)
def test_a_sample_of_episodes_is_proven_on_its_final_code(name: str) -> None:
    report_ = VerificationReport()
    for split in SPLITS:
        for seed in (3, 11):
            episode = REGISTRY.episode(name, seed=seed, split=split)
            assert verify_episode(episode, module_of(MODULES.values(), episode), report_), report_.failures


@pytest.mark.parametrize("name", TASKS)
def test_oracle_wins_generated_episodes(name: str) -> None:
    env = CodeReviewerEnv(task_name=name)
    for seed in range(20):
        env.reset(seed=seed, split="test")
        for issue in env.ground_truth():
            env.step(report(issue.line_number, issue.issue_type))
        env.step(SUBMIT)
        assert env.get_review_result().completion_score == 1.0


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("sweep", [True, False], ids=["sweep", "random"])
def test_blind_policy_bound_over_a_thousand_generated_seeds(name: str, sweep: bool) -> None:
    env = CodeReviewerEnv(task_name=name)
    scores = []
    for seed in range(1000):
        scores.append(play_blind(env, seed, sweep))
        assert not env.get_review_result().success
    assert statistics.mean(scores) < 0.25
