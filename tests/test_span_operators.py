"""Sites that span lines: a role or ownership check moved after the action it guards.

The rewrite swaps exactly a guard and the statement after it; verification proves the swap by
the module's authorisation exploit, judged by effect; a generated episode credits a reviewer on
both lines, its fix restores both, and re-verification on the episode's own code confirms it."""

from __future__ import annotations

import random

import pytest

from app.corpus.verify import VerificationReport, check_changes, verify_episode
from app.env.corpus.generator import Catalogue, Generator
from app.env.corpus.modules import load_module
from app.env.corpus.operators import OPERATORS_BY_NAME, window
from app.env.corpus.operators_span import SPAN_OPERATORS
from app.env.models import IssueType
from app.env.tasks import default_tasks_dir

CORPUS = default_tasks_dir() / "corpus"
ROLE = OPERATORS_BY_NAME["role_check_after_action"].variant("swapped")
OWNER = OPERATORS_BY_NAME["owner_check_after_use"].variant("swapped")


def test_every_span_operator_covers_several_lines_and_is_proved_by_an_exploit() -> None:
    assert SPAN_OPERATORS
    for operator in SPAN_OPERATORS:
        assert operator.span > 1 and operator.exploit_prefix and operator.cwe


def test_the_guard_and_the_action_after_it_are_swapped() -> None:
    guard = '    if not actor.is_admin: raise PermissionError("admin only")'
    action = '    conn.execute("UPDATE employees SET is_approver = ? WHERE id = ?", (int(flag), employee_id))'
    assert ROLE.apply(f"{guard}\n{action}") == f"{action}\n{guard}"
    owner = '    if doc["owner_id"] != actor.id: raise PermissionError("not yours")'
    assert OWNER.apply(f"{owner}\n    doc.update(changes)") == f"    doc.update(changes)\n{owner}"


@pytest.mark.parametrize("second", [
    "    return claim",                                      # unreachable code: any linter sees it
    '    if claim is None: raise LookupError("no claim")',   # another guard
    "    for row in rows:",                                  # a block
    "        conn.execute(\"DELETE FROM claims\")",          # another level
    "    # the action",
])
def test_no_swap_unless_an_action_follows_at_the_same_level(second: str) -> None:
    assert ROLE.apply(f'    if not actor.is_admin: raise PermissionError("admin only")\n{second}') is None


def test_a_role_check_is_not_an_ownership_check() -> None:
    text = '    if not actor.is_admin: raise PermissionError("admin only")\n    conn.execute("DELETE FROM claims")'
    assert ROLE.apply(text) is not None and OWNER.apply(text) is None


def test_verification_plants_the_swap_only_where_the_action_has_an_effect() -> None:
    module = load_module(CORPUS / "expense_claims")
    sites = {site.line: site for site in module.candidate_sites(SPAN_OPERATORS)}
    set_approver = module.line_of('if not actor.is_admin: raise PermissionError("admin only")')
    decide = module.line_of('if not actor.is_approver: raise PermissionError("approvers only")')
    assert {set_approver, decide} <= set(sites)
    changes = [(sites[n].key, sites[n].operator, n, module.rewrite(sites[n])) for n in (set_approver, decide)]
    verdicts = check_changes(module.folder, module.lines, changes, VerificationReport())
    # set_approver updates the employee before refusing; decide_claim only loads the claim first.
    assert verdicts == {sites[set_approver].key: True, sites[decide].key: False}


def test_an_episode_credits_both_lines_and_its_fix_restores_them() -> None:
    from app.env import load_registry

    catalogue = load_registry().generator.catalogue
    module = load_module(CORPUS / "expense_claims")
    assert any(key.startswith("role_check_after_action.") for key in catalogue.modules[module.name]["verified"])
    generator = Generator([module], Catalogue({module.name: catalogue.modules[module.name]}))
    rng = random.Random(0)
    for seed in rng.sample(range(10_000), 400):
        episode = generator.generate("security_audit", {IssueType.SECURITY_VULNERABILITY: 3}, seed, module.split)
        spanning = [issue for issue in episode.issues if OPERATORS_BY_NAME[issue.kind].span > 1]
        if spanning:
            break
    else:
        pytest.fail("no episode of 400 planted the verified two-line site")
    issue = spanning[0]
    lines = episode.snippet.code.rstrip("\n").split("\n")
    assert issue.accepted_lines == (issue.line_number, issue.line_number + 1)
    planted = window(lines, issue.line_number, 2)
    assert planted is not None and issue.fix.split("\n") == planted.split("\n")[::-1]
    assert verify_episode(episode, module, VerificationReport())
