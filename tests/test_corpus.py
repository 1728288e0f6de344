"""The generated corpus: deterministic, diverse, split-disjoint, proven, with decoys."""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import subprocess
import sys
import textwrap

import pytest

from app.corpus.verify import VerificationReport, module_of, run_mutants, verify_episode
from app.env import CodeReviewerEnv, IssueType, load_registry
from app.env.corpus.literals import CANONICAL, DIGIT_STYLES, QUOTE_STYLES, LiteralStyle, vary_line
from app.env.corpus.operators import OPERATORS, OPERATORS_BY_NAME, RewriteContext
from app.env.tasks import CORPUS_SPLITS, TaskRegistry, default_tasks_dir

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

    assert len(MODULES) >= 50
    document = json.loads((GENERATOR.modules[0].folder.parent / "verified.json").read_text())
    assert document["operators"] == operators_fingerprint(), "operators changed: re-run verify-tasks --catalogue"
    for module in MODULES.values():
        entry = GENERATOR.catalogue.modules.get(module.name)
        assert entry is not None and entry["digest"] == module.digest, f"{module.name}: catalogue is stale"
        # A security-dense module holds its domain's logic beside every safe pattern it plants
        # on (owner filters, role checks, signatures, allow-lists): up to about 240 lines.
        assert 40 <= len(module.lines) <= 240, module.name


def test_base_modules_are_split_into_disjoint_sets() -> None:
    splits = {split: {m.name for m in MODULES.values() if m.split == split} for split in CORPUS_SPLITS}
    assert all(splits.values()) and not (splits["train"] & splits["test"])
    for name in TASKS:
        sizes = REGISTRY.split_sizes(name)
        assert all(sizes[split] >= 1 for split in CORPUS_SPLITS), (name, sizes)


@pytest.mark.parametrize("name", TASKS)
def test_seed_omitted_keeps_the_canonical_snippet(name: str) -> None:
    task = REGISTRY.get(name)
    if task.canonical is not None:
        assert REGISTRY.episode(name) is task.canonical
    assert REGISTRY.episode(name, seed=1).snippet.code != (task.canonical.snippet.code if task.canonical else "")


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("split", CORPUS_SPLITS)
def test_generated_episodes_have_the_tasks_shape(name: str, split: str) -> None:
    task = REGISTRY.get(name)
    for seed in range(25):
        episode = REGISTRY.episode(name, seed=seed, split=split)
        assert MODULES[episode.origin].split == split
        kinds = {kind: sum(1 for i in episode.issues if i.issue_type is kind) for kind, _ in task.mix}
        if task.pull_request is None:
            assert len(episode.issues) == task.expected_issue_count and kinds == dict(task.mix)
        else:  # a pull request plants up to the mix, none included
            assert all(kinds[kind] <= count for kind, count in task.mix) and episode.diff
        lines = episode.reviewed_code.split("\n")
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


def _plants(variant, fix: str, planted: str, context: RewriteContext) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``variant`` turns ``fix`` into ``planted``, whatever the episode's literal spelling.

    Literals are respelled after planting; a line left with an open string keeps the module's
    spelling after the break, so the plain-text spelling is compared as well.
    """
    def crude(text: str) -> str:
        return re.sub(r"(?<=\d)_(?=\d)", "", text).replace("'", '"')

    def canon(text: str) -> str:  # a multi-line site's text is respelled line by line
        return "\n".join(vary_line(line, CANONICAL) for line in text.split("\n"))

    canonical = canon(variant.apply(canon(fix), context) or "")
    if canonical == canon(planted):
        return True
    return crude(variant.apply(crude(fix), context) or "") == crude(planted)


def test_held_out_variants_never_appear_in_train() -> None:
    held_out = {(op.name, v.name) for op in OPERATORS_BY_NAME.values() for v in op.variants if "train" not in v.splits}
    assert held_out
    for name in TASKS:
        for seed in range(40):
            episode = REGISTRY.episode(name, seed=seed, split="train")
            context = MODULES[episode.origin].rewrite_context
            lines = episode.reviewed_code.split("\n")
            for issue in episode.issues:
                operator = OPERATORS_BY_NAME[issue.kind]
                planted = "\n".join(lines[issue.line_number - 1:issue.line_number - 1 + operator.span])
                produced = {v.name for v in operator.variants if _plants(v, issue.fix, planted, context)}
                assert produced, (name, seed, issue.kind)
                assert any((issue.kind, v) not in held_out for v in produced), (name, seed, issue.kind)


def test_every_operator_has_verified_sites_and_its_held_out_variants_reach_the_held_out_splits() -> None:
    verified = {key.split("@")[0] for entry in GENERATOR.catalogue.modules.values() for key in entry["verified"]}
    for operator in OPERATORS:
        for variant in operator.variants:
            assert f"{operator.name}.{variant.name}" in verified, (operator.name, variant.name)
    sites = {split: {(site.operator, site.variant) for module in MODULES.values() if module.split == split
                     for kind in IssueType for site in GENERATOR.sites(module, kind, split)}
             for split in ("validation", "test")}
    for operator in OPERATORS:
        for variant in operator.variants:
            if "train" in variant.splits or operator.issue_type is IssueType.SYNTAX_ERROR:
                continue
            key = (operator.name, variant.name)
            # Every variant never seen in training is evaluated somewhere; those of the
            # vulnerabilities found by reading, which the test split is made of, on the test split.
            assert key in sites["validation"] | sites["test"], key
            if operator.exploit_prefix or operator.issue_type is IssueType.LOGIC_BUG:
                assert key in sites["test"], key


def test_security_audit_has_several_modules_in_each_held_out_split() -> None:
    sizes = REGISTRY.split_sizes("security_audit")
    assert sizes["validation"] >= 3 and sizes["test"] >= 3, sizes
    for split in CORPUS_SPLITS:
        xml_sites = [site for module in MODULES.values() if module.split == split
                     for site in GENERATOR.sites(module, IssueType.SECURITY_VULNERABILITY, split)
                     if site.operator == "xml_external_entities"]
        assert len(xml_sites) >= 2, split


def test_wrong_variable_swaps_one_read_for_another_local() -> None:
    last, first = OPERATORS_BY_NAME["wrong_variable"].variants
    line = "    return scale(amount, rate) + fee"
    assert last.apply(line) == "    return scale(amount, rate) + rate"
    assert first.apply("    return fee + scale(amount, rate)") == "    return amount + scale(amount, rate)"
    # one value passed twice side by side, or compared with a function of itself, is nonsense
    assert first.apply(line) is None  # scale(rate, rate)
    assert first.apply("    while ordered < len(items):") is None  # ordered < len(ordered)
    # a value with itself (`x - x`), calls, attributes, keyword names and constants are left alone
    assert last.apply("    elapsed = end - start") is None
    assert last.apply("    total = compute(rows, limit=LIMIT)") is None
    assert last.apply("    if user.name == ADMIN:") is None
    # the choice depends on positions only, so it commutes with renaming locals
    renamed = line.replace("amount", "value").replace("rate", "ratio")
    assert last.apply(renamed) == last.apply(line).replace("amount", "value").replace("rate", "ratio")


@pytest.mark.parametrize(("check", "plain"), [
    ("    if os.path.commonpath([root, path]) != root:", "    if os.path.basename(path) != root:"),
    ("    return hmac.compare_digest(sign(body, timestamp), header)", "    return equal(sign(body, timestamp), header)"),
    ("    if not user.is_admin and owner != user.id:", "    if not user.active and owner != user.id:"),
    ('    if row["owner"] != caller.user_id: raise PermissionError("not yours")',
     '    if row["owner"] != caller.user_id: raise LookupError("not yours")'),
    ("    path = os.path.realpath(os.path.join(root, name)) + suffix",
     "    path = os.path.normcase(os.path.join(root, name)) + suffix"),
])
def test_logic_operators_leave_security_checks_alone(check: str, plain: str) -> None:
    """Reverting a path confinement, a credential check or an authorisation is a vulnerability: no
    logic operator rewrites such a line, though the same shape without the check is rewritten."""
    from app.env.corpus.operators import operators_for

    context = RewriteContext(dict_keys=("owner", "owner_id"))
    variants = [variant for operator in operators_for(IssueType.LOGIC_BUG) for variant in operator.variants]
    assert all(variant.apply(check, context) is None for variant in variants)
    assert any(variant.apply(plain, context) is not None for variant in variants)


def test_wrong_dict_key_reads_the_closest_other_key_of_the_module() -> None:
    operator = OPERATORS_BY_NAME["wrong_dict_key"]
    context = RewriteContext(dict_keys=("amount", "amount_due", "currency"))
    assert operator.variants[0].apply('    total += row["amount"]', context) == '    total += row["amount_due"]'
    assert operator.variants[0].apply("    code = row.get('currency')", context) == "    code = row.get('amount')"
    assert operator.variants[0].apply('    key = os.environ["amount"]', context) is None
    assert operator.variants[0].apply('    x = row["a"] + row["b"]', context) is None


def test_xml_external_entities_turns_the_sax_feature_on() -> None:
    constant, uri = OPERATORS_BY_NAME["xml_external_entities"].variants
    line = "    parser.setFeature(feature_external_ges, False)"
    assert constant.apply(line) == "    parser.setFeature(feature_external_ges, True)"
    assert uri.apply(line) == '    parser.setFeature("http://xml.org/sax/features/external-general-entities", True)'
    assert "train" not in uri.splits and OPERATORS_BY_NAME["xml_external_entities"].cwe == "CWE-611"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if (MODULES[m].folder / "exploits.py").is_file()
                                        and "feature_external_ges" in MODULES[m].source))
def test_xxe_sites_are_confirmed_by_the_modules_exploit(name: str) -> None:
    """Bandit's XML rules carry CWE-20 and fire on safe code too: each XXE site is proved by an exploit."""
    module = MODULES[name]
    entry = GENERATOR.catalogue.modules[name]
    sites = [key for key in entry["verified"] + entry["discarded"] if key.startswith("xml_external_entities.")]
    assert sites and all(key in entry["verified"] for key in sites), entry["discarded"]
    assert len(module.candidate_sites()) >= len(sites)


STYLES = [LiteralStyle(quotes, digits) for quotes in QUOTE_STYLES for digits in DIGIT_STYLES]


@pytest.mark.parametrize("style", STYLES, ids=lambda s: f"{s.quotes}-{s.digits}")
def test_literal_variation_keeps_every_value(style: LiteralStyle) -> None:
    import ast

    for module in MODULES.values():
        varied = "\n".join(line if number in module.string_lines else vary_line(line, style)
                           for number, line in enumerate(module.lines, start=1))
        assert ast.dump(ast.parse(varied)) == ast.dump(ast.parse(module.source)), module.name


def test_literal_variation_respells_only_what_is_safe() -> None:
    single, grouped = LiteralStyle("single", "grouped"), LiteralStyle("double", "grouped")
    assert vary_line('x = f"{a} b" + "c\'d" + r"e"  # "q" 100000', single) == "x = f'{a} b' + \"c'd\" + r'e'  # \"q\" 100000"
    assert vary_line("y = 600000 + 1.5 + 1e10 + 0x10000 + 12345.0 + 2024", grouped) == \
        "y = 600_000 + 1.5 + 1e10 + 0x10000 + 12345.0 + 2024"
    assert vary_line("n = 1_000_000", CANONICAL) == "n = 1000000"
    assert vary_line('s = """a "b" c""" + "d', single) == 's = """a "b" c""" + "d'  # an open string stops the line


def test_module_tests_pass_on_literal_varied_code() -> None:
    style = LiteralStyle("single", "grouped")
    for name in ("payroll_deductions", "purchase_order_intake", "bank_statement_import", "webhook_dispatcher"):
        module = MODULES[name]
        varied = "\n".join(line if number in module.string_lines else vary_line(line, style)
                           for number, line in enumerate(module.lines, start=1)) + "\n"
        assert varied != module.source
        assert run_mutants(module.folder, [{"key": "varied", "source": varied}]) == {"varied": True}, name


def test_module_tests_pass_with_functions_and_methods_reordered() -> None:
    import random

    from app.env.corpus.generator import _reorder

    for name in ("meeting_room_booking", "rate_limiter", "feed_aggregator"):
        module = MODULES[name]
        prepared = GENERATOR.prepared(module)
        assert any(module.lines[run[0][0] - 1].startswith("    def ") for run in prepared.runs) or name == "feed_aggregator"
        order, _ = _reorder(prepared, len(module.lines), random.Random(7))
        reordered = "\n".join(module.lines[number - 1] for number in order) + "\n"
        assert reordered != module.source
        assert run_mutants(module.folder, [{"key": "reordered", "source": reordered}]) == {"reordered": True}, name


def test_generated_episodes_vary_literal_spelling_consistently() -> None:
    quote_counts = set()
    for seed in range(60):
        episode = REGISTRY.episode("logic_bug_detection", seed=seed)
        code = episode.snippet.code
        quote_counts.add((code.count('"') > code.count("'")))
        lines = code.split("\n")
        for issue in episode.issues:
            # the fix is spelled like the rest of the episode
            assert vary_line(issue.fix, CANONICAL) != vary_line(lines[issue.line_number - 1], CANONICAL)
    assert quote_counts == {True, False}


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


def test_warming_computes_each_modules_caches_and_changes_no_episode() -> None:
    warmed, cold = TaskRegistry.from_directory(default_tasks_dir()), TaskRegistry.from_directory(default_tasks_dir())
    assert warmed.generator is not None and cold.generator is not None
    warmed.warm()
    carrying = {module.name for module in warmed.generator.modules if warmed.generator.catalogue.verified(module)}
    assert len(carrying) >= 30
    assert set(warmed.generator._prepared) == carrying
    assert set(cold.generator._prepared) == set()
    for name in warmed.names():
        for split in CORPUS_SPLITS:
            for seed in (0, 5, 123456):
                assert warmed.episode(name, seed=seed, split=split) == cold.episode(name, seed=seed, split=split)


@pytest.mark.parametrize("name", TASKS)
def test_seeds_give_distinct_episodes(name: str) -> None:
    codes = {REGISTRY.episode(name, seed=seed).snippet.code for seed in range(300)}
    assert len(codes) >= 295


@pytest.mark.parametrize("name", TASKS)
def test_a_sample_of_episodes_is_proven_on_its_final_code(name: str) -> None:
    report_ = VerificationReport()
    for split in CORPUS_SPLITS:
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
