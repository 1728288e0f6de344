"""The access-control and secret-handling operators on the modules written for them: each rewrite
gives the intended line, verification proves the site with the operator's own exploit, the
exploit fails on the clean module, and no confirming Bandit rule sees the change."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest

from app.corpus.verify import (
    BANDIT_RULES,
    EXPLOIT_PREFIXES,
    VerificationReport,
    bandit_findings,
    enclosing_function,
    exploit_name,
    run_mutants,
    verify_module,
)
from app.env.corpus.modules import BaseModule, load_module
from app.env.corpus.operators import HELD_OUT, OPERATORS_BY_NAME
from app.env.corpus.operators_access import ACCESS_OPERATORS
from app.env.corpus.operators_span import SPAN_OPERATORS
from app.env.tasks import default_tasks_dir

CORPUS = default_tasks_dir() / "corpus"

# (module, operator, variant, clean line, planted line), both lines stripped.
CASES = [
    ("expense_claims", "broken_object_authorisation", "drop_owner_filter",
     'row = conn.execute("SELECT id, employee_id, description, amount_cents, category, status FROM claims WHERE id = ? AND employee_id = ?", (claim_id, actor.id)).fetchone()',
     'row = conn.execute("SELECT id, employee_id, description, amount_cents, category, status FROM claims WHERE id = ?", (claim_id,)).fetchone()'),
    ("expense_claims", "broken_object_authorisation", "owner_or",
     'rows = conn.execute("SELECT name FROM receipts WHERE claim_id = ? AND employee_id = ?", (claim_id, actor.id)).fetchall()',
     'rows = conn.execute("SELECT name FROM receipts WHERE claim_id = ? OR employee_id = ?", (claim_id, actor.id)).fetchall()'),
    ("expense_claims", "broken_object_authorisation", "owner_presence",
     'if claim["employee_id"] != actor.id: raise PermissionError("not your claim")',
     'if not claim["employee_id"]: raise PermissionError("not your claim")'),
    ("expense_claims", "missing_authorisation", "caller_only",
     'if not actor.is_approver: raise PermissionError("approvers only")',
     'if not actor: raise PermissionError("approvers only")'),
    ("expense_claims", "missing_authorisation", "wrong_flag",
     'if not actor.is_admin: raise PermissionError("admin only")',
     'if not actor.is_active: raise PermissionError("admin only")'),
    ("expense_claims", "timing_unsafe_comparison", "equals",
     'if not hmac.compare_digest(sign(payload, PAYROLL_SECRET), signature): raise ValueError("bad signature")',
     'if sign(payload, PAYROLL_SECRET) != signature: raise ValueError("bad signature")'),
    ("expense_claims", "timing_unsafe_comparison", "equals_swapped",
     'if not hmac.compare_digest(sign(body), mac): raise ValueError("bad token signature")',
     'if mac != sign(body): raise ValueError("bad token signature")'),
    ("expense_claims", "unverified_signature", "presence_only",
     'if not hmac.compare_digest(sign(payload, PAYROLL_SECRET), signature): raise ValueError("bad signature")',
     'if not signature: raise ValueError("bad signature")'),
    ("expense_claims", "unverified_signature", "self_compare",
     'if not hmac.compare_digest(sign(body), mac): raise ValueError("bad token signature")',
     'if not hmac.compare_digest(mac, mac): raise ValueError("bad token signature")'),
    ("expense_claims", "expiry_not_enforced", "issue_time",
     'if claims["exp"] <= now: return None', 'if claims["exp"] <= claims["iat"]: return None'),
    ("expense_claims", "expiry_not_enforced", "age_reversed",
     'if now - claims["iat"] > RESET_MAX_AGE: return None', 'if claims["iat"] - now > RESET_MAX_AGE: return None'),
    ("expense_claims", "mass_assignment", "unfiltered_update",
     "claim.update({k: v for k, v in changes.items() if k in EDITABLE_FIELDS})", "claim.update(changes)"),
    ("expense_claims", "mass_assignment", "unfiltered_loop",
     "for key in PROFILE_FIELDS & changes.keys():", "for key in changes:"),
    ("lab_results_portal", "broken_object_authorisation", "drop_owner_filter",
     'return conn.execute("SELECT test, value, unit FROM results WHERE id = ? AND released = 1 AND patient_id = ?", (result_id, actor.id)).fetchone()',
     'return conn.execute("SELECT test, value, unit FROM results WHERE id = ? AND released = 1", (result_id,)).fetchone()'),
    ("lab_results_portal", "broken_object_authorisation", "owner_presence",
     'if result["patient_id"] != actor.id: raise PermissionError("not your result")',
     'if not result["patient_id"]: raise PermissionError("not your result")'),
    ("lab_results_portal", "missing_authorisation", "caller_only",
     'if not actor.is_admin: raise PermissionError("admin only")', 'if not actor: raise PermissionError("admin only")'),
    ("lab_results_portal", "timing_unsafe_comparison", "equals",
     'if not hmac.compare_digest(signature(body, LINK_SECRET), mac): return None',
     "if signature(body, LINK_SECRET) != mac: return None"),
    ("lab_results_portal", "unverified_signature", "presence_only",
     'if not hmac.compare_digest(signature(body, FEED_SECRET), given): raise ValueError("bad feed signature")',
     'if not given: raise ValueError("bad feed signature")'),
    ("lab_results_portal", "expiry_not_enforced", "issue_time",
     'if claims["exp"] <= now: return None', 'if claims["exp"] <= claims["iat"]: return None'),
    ("lab_results_portal", "mass_assignment", "unfiltered_update",
     "result.update({k: v for k, v in changes.items() if k in AMENDABLE_FIELDS})", "result.update(changes)"),
]
IDS = [f"{module}-{operator}.{variant}" for module, operator, variant, _, _ in CASES]


@lru_cache(maxsize=None)
def module(name: str) -> BaseModule:
    return load_module(CORPUS / name)


@lru_cache(maxsize=None)
def entry(name: str) -> dict[str, Any]:
    report = VerificationReport()
    result = verify_module(module(name), report)
    assert report.failures == []
    return result


def site_key(case: tuple[str, str, str, str, str]) -> tuple[str, int]:
    name, operator, variant, clean, _ = case
    return f"{operator}.{variant}@{module(name).line_of(clean)}", module(name).line_of(clean)


def test_every_access_operator_and_variant_is_exercised() -> None:
    covered = {(operator, variant) for _, operator, variant, _, _ in CASES}
    for operator in ACCESS_OPERATORS:
        assert operator.exploit_prefix and EXPLOIT_PREFIXES[operator.name] == operator.exploit_prefix
        assert operator.cwe and any(v.splits == HELD_OUT for v in operator.variants)
        assert {(operator.name, v.name) for v in operator.variants} <= covered
    # One exploit family per vulnerability; a check moved after its action (operators_span) is
    # proved by the exploit of the check it moves.
    span = {operator.name for operator in SPAN_OPERATORS}
    own = {name: prefix for name, prefix in EXPLOIT_PREFIXES.items() if name not in span}
    assert len(set(own.values())) == len(own)
    assert {EXPLOIT_PREFIXES[name] for name in span} <= set(own.values())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rewrite_gives_the_intended_line(case: tuple[str, str, str, str, str]) -> None:
    name, operator, variant, clean, planted = case
    line = module(name).lines[module(name).line_of(clean) - 1]
    rewritten = OPERATORS_BY_NAME[operator].variant(variant).apply(line, module(name).rewrite_context)
    assert rewritten is not None and rewritten.strip() == planted
    assert rewritten[: len(rewritten) - len(rewritten.lstrip())] == line[: len(line) - len(line.lstrip())]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_site_is_verified_by_its_exploit_not_by_bandit(case: tuple[str, str, str, str, str]) -> None:
    name, operator, _, _, planted = case
    key, line = site_key(case)
    assert key in entry(name)["verified"]
    changed = list(module(name).lines)
    changed[line - 1] = changed[line - 1][: len(changed[line - 1]) - len(changed[line - 1].lstrip())] + planted
    confirming = frozenset().union(*BANDIT_RULES.values())
    assert not {rule for found, rule in bandit_findings("\n".join(changed) + "\n") if found == line} & confirming
    assert exploit_name(operator, enclosing_function(module(name).source, line) or "").startswith(
        OPERATORS_BY_NAME[operator].exploit_prefix or "-")


@pytest.mark.parametrize("name", sorted({case[0] for case in CASES}))
def test_exploits_fail_on_the_clean_module(name: str) -> None:
    prefixes = tuple(operator.exploit_prefix for operator in ACCESS_OPERATORS)
    names = sorted({exploit_name(operator, enclosing_function(module(name).source, site_key(case)[1]) or "")
                    for case in CASES if case[0] == name for operator in [case[1]]})
    assert names and all(n.startswith(prefixes) for n in names)
    results = run_mutants(module(name).folder, [{"key": n, "source": module(name).source, "exploit": n} for n in names])
    assert results == {n: False for n in names}

