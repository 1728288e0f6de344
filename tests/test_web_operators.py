"""The operators of vulnerabilities found by reading (SSRF, path confinement, regex from input,
log injection, redirect host check) on the base modules written for them: each rewrite gives the
intended line, verification proves every site by its exploit, no exploit works on the clean
module, and no confirming Bandit rule sees the changed lines."""

from pathlib import Path

import pytest

from app.corpus.verify import (
    BANDIT_RULES,
    EXPLOIT_PREFIXES,
    VerificationReport,
    bandit_findings,
    module_exploits,
    run_mutants,
    verify_module,
)
from app.env.corpus.modules import BaseModule, load_module
from app.env.corpus.operators import HELD_OUT, OPERATORS_BY_NAME
from app.env.corpus.operators_web import WEB_OPERATORS

CORPUS = Path(__file__).resolve().parents[1] / "tasks" / "corpus"
MODULES = ("link_preview_service", "docs_site_publisher")
WEB_NAMES = frozenset(operator.name for operator in WEB_OPERATORS)

REWRITES = [
    ("link_preview_service", "if urlsplit(url).hostname not in ALLOWED_HOSTS:", "ssrf_allow_list", "scheme_prefix",
     'if not url.startswith("http"):'),
    ("docs_site_publisher", "if urlsplit(url).hostname not in SOURCE_HOSTS:", "ssrf_allow_list", "scheme_only",
     'if urlsplit(url).scheme not in ("http", "https"):'),
    ("link_preview_service", "if not os.path.realpath(candidate).startswith(CACHE_ROOT + os.sep):",
     "path_confinement_weakened", "unresolved_prefix", "if not candidate.startswith(CACHE_ROOT):"),
    ("docs_site_publisher", "if not os.path.realpath(candidate).startswith(SITE_ROOT + os.sep):",
     "path_confinement_weakened", "no_separator", "if not os.path.realpath(candidate).startswith(SITE_ROOT):"),
    ("link_preview_service", "if os.path.commonpath([CACHE_ROOT, path]) != CACHE_ROOT:",
     "path_confinement_weakened", "commonpath_prefix", "if not path.startswith(CACHE_ROOT):"),
    ("link_preview_service", "pattern = re.compile(re.escape(query), re.IGNORECASE)", "regex_from_input",
     "unescaped", "pattern = re.compile(query, re.IGNORECASE)"),
    ("docs_site_publisher", 'pattern = re.compile(r"\\b" + re.escape(query), re.IGNORECASE)', "regex_from_input",
     "dots_only", 'pattern = re.compile(r"\\b" + query.replace(".", r"\\."), re.IGNORECASE)'),
    ("link_preview_service", 'log.info("preview of %r requested by %r", url, user)', "log_injection", "percent_s",
     'log.info("preview of %s requested by %s", url, user)'),
    ("docs_site_publisher", 'audit.info("published %r by %r", slug, editor)', "log_injection", "fstring",
     'audit.info(f"published {slug} by {editor}")'),
    ("link_preview_service", 'if urlsplit(target).netloc not in ("", OWN_HOST):', "redirect_host_check_weakened",
     "slash_prefix", 'if not target.startswith("/"):'),
    ("docs_site_publisher", 'if urlsplit(target).netloc not in ("", SITE_HOST):', "redirect_host_check_weakened",
     "substring", "if SITE_HOST not in target:"),
]


@pytest.fixture(scope="module")
def modules() -> dict[str, BaseModule]:
    return {name: load_module(CORPUS / name) for name in MODULES}


@pytest.fixture(scope="module")
def verified(modules) -> dict[str, tuple[dict, VerificationReport]]:
    results = {}
    for name, module in modules.items():
        report = VerificationReport()
        results[name] = (verify_module(module, report), report)
    return results


def test_operators_are_declared_for_exploit_proof():
    prefixes = [operator.exploit_prefix for operator in WEB_OPERATORS]
    assert len(WEB_OPERATORS) == 5 and None not in prefixes and len(set(prefixes)) == len(prefixes)
    for operator in WEB_OPERATORS:
        assert OPERATORS_BY_NAME[operator.name] is operator
        assert operator.cwe and operator.description and operator.name not in BANDIT_RULES
        assert EXPLOIT_PREFIXES[operator.name] == operator.exploit_prefix
        assert any(variant.splits == HELD_OUT for variant in operator.variants), operator.name
        assert any("train" in variant.splits for variant in operator.variants), operator.name


@pytest.mark.parametrize(("module_name", "clean", "operator", "variant", "expected"), REWRITES)
def test_rewrite_gives_the_intended_line(modules, module_name, clean, operator, variant, expected):
    module = modules[module_name]
    found = [line for line in module.lines if line.strip() == clean]
    assert found, clean
    for line in found:  # the same check may appear in several functions
        indent = line[: len(line) - len(clean)]
        assert OPERATORS_BY_NAME[operator].variant(variant).apply(line) == indent + expected


def test_rewrites_leave_lookalike_lines_alone():
    ssrf = OPERATORS_BY_NAME["ssrf_allow_list"].variant("scheme_prefix").apply
    host = OPERATORS_BY_NAME["redirect_host_check_weakened"].variant("slash_prefix").apply
    log = OPERATORS_BY_NAME["log_injection"].variant("percent_s").apply
    regex = OPERATORS_BY_NAME["regex_from_input"].variant("unescaped").apply
    assert ssrf('    if urlsplit(target).scheme not in ("", "https"):') is None
    assert host("    if urlsplit(url).hostname not in ALLOWED_HOSTS:") is None
    assert log('    log.info("preview of %s", count)') is None
    assert regex("    escaped = re.escape(term)") is None


@pytest.mark.parametrize("module_name", MODULES)
def test_every_site_of_the_web_operators_is_verified(modules, verified, module_name):
    entry, report = verified[module_name]
    assert report.failures == []
    sites = [site for site in modules[module_name].candidate_sites() if site.operator in WEB_NAMES]
    assert {site.operator for site in sites} == WEB_NAMES
    assert sorted(site.key for site in sites if site.key not in entry["verified"]) == []
    security_lines = {int(key.rsplit("@", 1)[1]) for key in entry["verified"]
                      if OPERATORS_BY_NAME[key.split(".", 1)[0]].issue_type.name == "SECURITY_VULNERABILITY"}
    assert len(security_lines) >= 11


def test_every_variant_is_verified_somewhere(verified):
    keys = {key.split("@", 1)[0] for entry, _ in verified.values() for key in entry["verified"]}
    for operator in WEB_OPERATORS:
        for variant in operator.variants:
            assert f"{operator.name}.{variant.name}" in keys


@pytest.mark.parametrize("module_name", MODULES)
def test_exploits_fail_on_the_clean_module(modules, module_name):
    module = modules[module_name]
    names = [name for name in module_exploits(module.folder)
             if name.startswith(tuple(operator.exploit_prefix for operator in WEB_OPERATORS))]
    assert len(names) >= 9
    results = run_mutants(module.folder, [{"key": name, "source": module.source, "exploit": name} for name in names])
    assert results == {name: False for name in names}


@pytest.mark.parametrize("module_name", MODULES)
def test_no_confirming_bandit_rule_sees_the_changed_lines(modules, verified, module_name):
    module = modules[module_name]
    entry, _ = verified[module_name]
    confirming = frozenset().union(*BANDIT_RULES.values())
    for site in module.candidate_sites():
        if site.operator not in WEB_NAMES or site.key not in entry["verified"]:
            continue
        changed = list(module.lines)
        changed[site.line - 1] = module.rewrite(site)
        fired = {rule for line, rule in bandit_findings("\n".join(changed) + "\n") if line == site.line}
        assert not fired & confirming, (site.key, fired)


@pytest.mark.parametrize("module_name", MODULES)
def test_no_logic_bug_is_planted_on_a_url_check(modules, verified, module_name):
    """Inverting the redirect's scheme check lets `javascript:` through: a vulnerability its
    exploit proves, so verification must not keep it as a logic bug."""
    module = modules[module_name]
    entry, _ = verified[module_name]
    logic_lines = {int(key.rsplit("@", 1)[1]) for key in entry["verified"]
                   if OPERATORS_BY_NAME[key.split(".", 1)[0]].issue_type.name == "LOGIC_BUG"}
    assert logic_lines
    assert [module.lines[line - 1].strip() for line in sorted(logic_lines) if "urlsplit(" in module.lines[line - 1]] == []
