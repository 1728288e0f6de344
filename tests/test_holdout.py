"""The private hold-out split: modules from directories outside the project, served as ``holdout``
on every interface once verified, with clear errors naming the cause when they cannot be."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from app.cli import cli
from app.env import CodeReviewerEnv, HoldoutUnavailable, load_registry
from app.env.corpus.holdout import HOLDOUT_SPLIT, catalogue_path

from conftest import ROOT

CORPUS = ROOT / "tasks" / "corpus"
# Two test-split modules, copied under other names: their code is unchanged, so the entries that
# verified it (same digest) serve as their hold-out catalogue without verifying again here.
COPIES = {"bank_statement_import": "ho_ledger_intake", "support_ticket_api": "ho_helpdesk"}
AGENT, ADMIN = "holdout-agent-key", "holdout-admin-key"


def copy_module(source: str, target: Path, name: str) -> None:
    shutil.copytree(CORPUS / source, target / name)
    toml = target / name / "module.toml"
    meta = tomllib.loads(toml.read_text(encoding="utf-8"))
    text = toml.read_text(encoding="utf-8").replace(f'name = "{meta["name"]}"', f'name = "{name}"', 1)
    toml.write_text(text.replace('split = "test"', 'split = "train"'), encoding="utf-8")  # ignored: holdout


@pytest.fixture
def holdout_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "private-holdout"
    folder.mkdir()
    public = json.loads((CORPUS / "verified.json").read_text(encoding="utf-8"))
    entries = {}
    for source, name in COPIES.items():
        copy_module(source, folder, name)
        entries[name] = public["modules"][source]
    (folder / "verified.json").write_text(json.dumps({**public, "modules": entries}), encoding="utf-8")
    return folder


def test_holdout_modules_form_the_holdout_split_for_every_task_they_qualify_for(holdout_dir: Path) -> None:
    registry = load_registry(holdout=str(holdout_dir))
    assert {module.name: module.split for module in registry.holdout.modules} == dict.fromkeys(COPIES.values(),
                                                                                                 HOLDOUT_SPLIT)
    sizes = {name: registry.split_sizes(name)[HOLDOUT_SPLIT] for name in registry.names()}
    assert sizes == {"syntax_check": 2, "logic_bug_detection": 2, "security_audit": 2, "full_review": 2, "pr_review": 2}
    for name in registry.names():
        episode = registry.episode(name, seed=1, split=HOLDOUT_SPLIT)
        assert episode.origin in COPIES.values() and episode.split == HOLDOUT_SPLIT
    # The public splits are unchanged by a hold-out directory.
    public = load_registry(holdout="")
    for split in ("train", "test"):
        assert public.episode("full_review", seed=3, split=split) == registry.episode("full_review", seed=3, split=split)


def test_a_holdout_episode_depends_on_the_secret(holdout_dir: Path) -> None:
    registry = load_registry(holdout=str(holdout_dir))
    digests = {secret: [registry.with_episode_secret(secret).episode("security_audit", seed, HOLDOUT_SPLIT)
                        .snippet.digest for seed in range(10)] for secret in (b"one", b"two")}
    assert digests[b"one"] != digests[b"two"]


def test_why_no_holdout_episode_can_be_served(tmp_path: Path, holdout_dir: Path) -> None:
    def reason(holdout: str) -> str:
        with pytest.raises(HoldoutUnavailable) as raised:
            CodeReviewerEnv("logic_bug_detection", registry=load_registry(holdout=holdout)).reset(
                seed=0, split=HOLDOUT_SPLIT)
        return str(raised.value)

    def variant(name: str) -> Path:
        # A registry is read once per process and directory: each case gets a directory of its own.
        folder = tmp_path / name
        shutil.copytree(holdout_dir, folder)
        return folder

    assert "CODEREVIEW_HOLDOUT_DIR is not set" in reason("")
    assert "does not exist" in reason(str(tmp_path / "nowhere"))
    unverified = variant("unverified")
    (unverified / "verified.json").unlink()
    assert "'ho_helpdesk' is not verified" in reason(str(unverified))
    invalid = variant("invalid")
    toml = invalid / "ho_helpdesk" / "module.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("file_name =", "filename ="), encoding="utf-8")
    (invalid / "ho_ledger_intake" / "test_module.py").unlink()
    message = reason(str(invalid))
    assert "ho_helpdesk: module.toml field 'file_name' must be a non-empty string" in message
    assert "ho_ledger_intake: test_module.py is missing" in message
    changed = variant("changed")
    with (changed / "ho_helpdesk" / "module.py").open("a", encoding="utf-8") as handle:
        handle.write("\n# changed after verification\n")
    (changed / "ho_ledger_intake" / "module.py").write_text("def broken(:\n", encoding="utf-8")
    message = reason(str(changed))
    assert "'ho_helpdesk' changed since it was verified" in message
    assert "ho_ledger_intake: module.py line 1 does not parse" in message


def test_the_service_serves_holdout_episodes_and_tells_agents_nothing_about_the_modules(
        make_app, holdout_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(HOLDOUT_DIR=str(holdout_dir), API_KEYS=AGENT, ADMIN_API_KEYS=ADMIN)
    agent = app.test_client()
    agent.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {AGENT}"
    listed = agent.get("/tasks").get_json()["tasks"]
    assert all(task["split_sizes"][HOLDOUT_SPLIT] == 2 and HOLDOUT_SPLIT in task["splits"] for task in listed)
    assert not any(name in json.dumps(listed) for name in COPIES.values())
    reset = agent.post("/reset", json={"task": "security_audit", "seed": 4, "split": HOLDOUT_SPLIT})
    assert reset.status_code == 200
    served = reset.get_json()["observation"]
    secret = app.extensions["registry"].episode_secret_source()
    expected = load_registry(holdout=str(holdout_dir)).with_episode_secret(secret).episode(
        "security_audit", seed=4, split=HOLDOUT_SPLIT)
    assert served["code_snippet"]["code"] == expected.snippet.code
    assert served["code_snippet"]["file_name"] in served["task_description"]
    again = agent.post("/reset", json={"task": "security_audit", "seed": 4, "split": HOLDOUT_SPLIT})
    assert again.status_code == 409 and "once per key" in again.get_json()["error"]["message"]
    # Over MCP as well.
    started = agent.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "start_review", "arguments": {"task": "logic_bug_detection", "seed": 2, "split": HOLDOUT_SPLIT}}})
    assert "error" not in started.get_json(), started.get_json()

    # A server whose hold-out modules are unusable: the agent is told that, not which module or file.
    unverified = tmp_path / "unverified"
    shutil.copytree(holdout_dir, unverified)
    (unverified / "verified.json").unlink()
    unusable = make_app(HOLDOUT_DIR=str(unverified), API_KEYS=AGENT, ADMIN_API_KEYS=ADMIN)
    for key, detailed in ((AGENT, False), (ADMIN, True)):
        client = unusable.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        refused = client.post("/reset", json={"task": "security_audit", "seed": 4, "split": HOLDOUT_SPLIT})
        assert refused.status_code == 422 and "split" in refused.get_json()["error"]["fields"]
        message = refused.get_json()["error"]["message"]
        assert ("ho_helpdesk" in message) is detailed, message
        assert "codereview corpus status" in message or detailed


def evaluate_holdout(make_app, holdout_dir: Path, agent: str, episodes: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Mean completion per task of ``codereview evaluate --split holdout`` (a fixed episode secret,
    so that the figures are the same in every run)."""
    runner = make_app(HOLDOUT_DIR=str(holdout_dir), EPISODE_SECRET="hold-out figures").test_cli_runner()
    result = runner.invoke(cli, args=["evaluate", "--agent", agent, "--split", HOLDOUT_SPLIT, "--episodes",
                                      str(episodes), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["split"] == HOLDOUT_SPLIT
    return {row["task"]: row["mean_completion_score"] for row in report["tasks"]}


def test_evaluate_on_the_holdout_split(make_app, holdout_dir: Path) -> None:  # type: ignore[no-untyped-def]
    oracle = evaluate_holdout(make_app, holdout_dir, "oracle", 4)
    random = evaluate_holdout(make_app, holdout_dir, "random", 40)
    static = evaluate_holdout(make_app, holdout_dir, "static", 10)
    assert set(oracle.values()) == {1.0}
    assert all(value <= 0.05 for value in random.values()), random
    assert static["logic_bug_detection"] <= 0.5, static


def test_the_static_agent_stays_well_below_the_oracle_on_holdout_security(make_app, holdout_dir: Path) -> None:  # type: ignore[no-untyped-def]
    static = evaluate_holdout(make_app, holdout_dir, "static", 10)
    assert static["security_audit"] <= 0.5, static


def test_evaluate_without_a_holdout_is_a_clear_error(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(cli, args=["evaluate", "--agent", "random", "--split", HOLDOUT_SPLIT, "--episodes", "1"])
    assert result.exit_code != 0 and "CODEREVIEW_HOLDOUT_DIR is not set" in result.output
    assert "Traceback" not in result.output


def test_authoring_a_module_and_verifying_its_catalogue_outside_the_project(
        make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, cache = tmp_path / "holdout", tmp_path / "cache"
    folder.mkdir()
    tasks = tmp_path / "tasks"  # the project's tasks without their corpus: only the new module is verified
    shutil.copytree(ROOT / "tasks", tasks, ignore=shutil.ignore_patterns("corpus"))
    (tasks / "corpus").mkdir()
    catalogues = sorted(ROOT.glob("tasks/**/*.json"))
    before = {path: path.read_bytes() for path in catalogues}
    runner = make_app(HOLDOUT_DIR=str(folder), HOLDOUT_CATALOGUE_DIR=str(cache), TASKS_DIR=str(tasks)).test_cli_runner()

    created = runner.invoke(cli, args=["corpus", "new", "order_lookups"])
    assert created.exit_code == 0, created.output
    assert sorted(p.name for p in (folder / "order_lookups").iterdir()) == [
        "exploits.py", "module.py", "module.toml", "test_module.py"]
    assert runner.invoke(cli, args=["corpus", "new", "order_lookups"]).exit_code != 0  # never overwritten

    checked = runner.invoke(cli, args=["verify-tasks", "--module", str(folder / "order_lookups"), "--format", "json"])
    assert checked.exit_code == 0, checked.output
    assert '"can carry": "yes"' in checked.output and '"task": "syntax_check"' in checked.output
    # The skeleton's exploit proves its SQL injection sites (it carries the operator's prefix).
    sql = re.search(r'"operator": "sql_injection",\s*"generated": (\d+),\s*"verified": (\d+)', checked.output)
    assert sql is not None and int(sql.group(2)) == int(sql.group(1)) > 0, checked.output

    verified = runner.invoke(cli, args=["verify-tasks", "--catalogue"])
    assert verified.exit_code == 0, verified.output
    written = catalogue_path(folder, cache)
    assert written.parent == cache and "order_lookups" in json.loads(written.read_text())["modules"]
    assert not (folder / "verified.json").exists()
    assert sorted(ROOT.glob("tasks/**/*.json")) == catalogues  # nothing written into the project
    assert {path: path.read_bytes() for path in catalogues} == before

    status = make_app(HOLDOUT_DIR=str(folder), HOLDOUT_CATALOGUE_DIR=str(cache),
                      TASKS_DIR=str(tasks)).test_cli_runner().invoke(cli, args=["corpus", "status", "--format", "json"])
    assert status.exit_code == 0 and "sites verified" in status.output and "PROBLEM" not in status.output
