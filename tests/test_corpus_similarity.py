"""No split leaks into another: no domain, and no near-copy of a module, crosses a split."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.corpus.similarity import NEAR_DUPLICATE, closest_elsewhere, cross_split_pairs, shared_domains, similarity
from app.env.corpus.modules import load_modules

CORPUS = Path(__file__).resolve().parents[1] / "tasks" / "corpus"
MODULES = load_modules(CORPUS)


def test_every_domain_belongs_to_one_split() -> None:
    assert all(module.domain for module in MODULES)
    assert shared_domains(MODULES) == {}


def test_no_module_is_a_near_copy_of_one_in_another_split() -> None:
    pairs = cross_split_pairs(MODULES)
    assert pairs, "the corpus has modules in several splits"
    close = [pair for pair in pairs if pair.similarity >= NEAR_DUPLICATE]
    assert close == []


def _disguised(source: str) -> str:
    """``source`` with every identifier but keywords and builtins renamed, every string and
    number changed and every comment reworded: what a careless copy into another split looks
    like."""
    import builtins
    import keyword

    reserved = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls", "f", "r", "b", "rb", "br", "fr", "rf"}
    renamed = re.sub(r"\b([A-Za-z_]\w*)\b",
                     lambda m: m.group(1) if m.group(1) in reserved else f"{m.group(1)}_x", source)
    renamed = re.sub(r"\b\d+\b", lambda m: str(int(m.group(0)) + 7), renamed)
    return re.sub(r"#.*", "# reworded", renamed)


def _definitions(module) -> list[str]:
    """The module's top-level statements, each as source text."""
    return ["\n".join(module.lines[node.lineno - 1:node.end_lineno]) + "\n" for node in module.tree.body]


@pytest.mark.parametrize("name, other", [("expense_claims", "budget_forecast"),
                                         ("payroll_deductions", "grade_book"),
                                         ("feed_aggregator", "rate_limiter")])
def test_a_disguised_copy_is_caught(name: str, other: str) -> None:
    module, unrelated = (next(m for m in MODULES if m.name == n) for n in (name, other))
    assert similarity(module.source, _disguised(module.source)) > 0.9
    # The disguised copy with its last tenth of definitions replaced by another module's code.
    own, foreign = _definitions(module), _definitions(unrelated)
    kept = own[: len(own) * 9 // 10]
    reworked = "\n".join(_disguised(text) for text in kept + foreign[len(foreign) * 9 // 10:])
    assert similarity(module.source, reworked) >= NEAR_DUPLICATE
    assert similarity(module.source, unrelated.source) < NEAR_DUPLICATE / 3


def test_unrelated_modules_share_little() -> None:
    pairs = cross_split_pairs(MODULES)
    median = sorted(pair.similarity for pair in pairs)[len(pairs) // 2]
    assert median < 0.1


def test_a_holdout_copy_names_the_module_it_copies() -> None:
    import dataclasses

    original = next(m for m in MODULES if m.name == "budget_forecast")
    copy = dataclasses.replace(original, name="forecast_copy", split="holdout", source=_disguised(original.source))
    closest = closest_elsewhere(copy, MODULES)
    assert closest is not None and closest.second == "budget_forecast" and closest.similarity >= NEAR_DUPLICATE
    fresh = dataclasses.replace(original, split="holdout")
    assert closest_elsewhere(fresh, [m for m in MODULES if m.name != "budget_forecast"]).similarity < NEAR_DUPLICATE
