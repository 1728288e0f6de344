import pytest

import module as m


def test_split_annual_even_and_remainder():
    assert m.split_annual(1_200) == [100] * 12
    assert m.split_annual(1_205) == [101] * 5 + [100] * 7
    assert m.split_annual(11) == [1] * 11 + [0]
    assert m.split_annual(10, 3) == [4, 3, 3]
    assert m.split_annual(11, 3) == [4, 4, 3]
    assert m.split_annual(0) == [0] * 12
    assert sum(m.split_annual(987_654)) == 987_654
    assert len(m.split_annual(5, 1)) == 1


def test_grow():
    assert m.grow(10_000, 125) == 10_125
    assert m.grow(999, 125) == 1_011
    assert isinstance(m.grow(999, 125), int)
    assert m.grow(10_000, -500) == 9_500
    assert m.grow(10_000, 0) == 10_000
    assert m.grow(0, 300) == 0


def test_project():
    assert m.project(10_000, 125, 3) == [10_000, 10_125, 10_251]
    assert m.project(10_000, 125, 1) == [10_000]
    assert m.project(10_000, 125, 0) == []
    assert m.project(500, 0, 4) == [500, 500, 500, 500]
    assert m.project(10_000, -1_000, 3) == [10_000, 9_000, 8_100]


def test_add_one_offs():
    values = [1, 2, 3]
    assert m.add_one_offs(values, [(0, 10), (2, -1), (0, 5)]) == [16, 2, 2]
    assert values == [1, 2, 3]
    assert m.add_one_offs(values) == [1, 2, 3]
    assert m.add_one_offs(values) == [1, 2, 3]
    assert m.add_one_offs([], []) == []
    assert m.add_one_offs([0, 0], [(1, 7)]) == [0, 7]


def test_cumulative():
    assert m.cumulative([1, 2, 3]) == [1, 3, 6]
    assert m.cumulative([1, 2, 3], opening=10) == [11, 13, 16]
    assert m.cumulative([5, -8]) == [5, -3]
    assert m.cumulative([]) == []


def test_runway_month():
    assert m.runway_month(100, [50, 50, 50], [100, 100, 100]) == 3
    assert m.runway_month(100, [50, 50], [100, 101]) == 2
    assert m.runway_month(100, [50, 50], [100, 100]) is None
    assert m.runway_month(0, [0], [1]) == 1
    assert m.runway_month(0, [], []) is None
    assert m.runway_month(10, [100, 0], [0, 105]) is None
    assert m.runway_month(10, [0, 100], [105, 0]) == 1


def test_break_even_month():
    assert m.break_even_month([5, 8, 10], [10, 10, 10]) == 3
    assert m.break_even_month([11, 8, 10], [10, 10, 10]) == 1
    assert m.break_even_month([5, 11], [10, 10]) == 2
    assert m.break_even_month([5, 8], [10, 10]) is None
    assert m.break_even_month([], []) is None
    assert m.break_even_month([3, 9], [4, 2]) == 2


def test_quarter_totals():
    assert m.quarter_totals(list(range(1, 13))) == [6, 15, 24, 33]
    assert m.quarter_totals([1, 1, 1, 5]) == [3, 5, 0, 0]
    assert m.quarter_totals([]) == [0, 0, 0, 0]
    assert m.quarter_totals([0] * 11 + [7]) == [0, 0, 0, 7]


def test_variance_boundaries():
    budget = {"rent": 1_000, "travel": 2_000, "tools": 300, "food": 100}
    actual = {"rent": 1_050, "travel": 1_899, "tools": 316}
    assert m.variance(budget, actual) == {"rent": "on track", "travel": "under", "tools": "over",
                                          "food": "under"}
    actual = {"rent": 1_051, "travel": 1_900, "tools": 315, "food": 95}
    assert m.variance(budget, actual) == {"rent": "over", "travel": "on track",
                                          "tools": "on track", "food": "on track"}


def test_variance_tolerance():
    assert m.variance({"a": 100}, {"a": 100}, tolerance_pct=0) == {"a": "on track"}
    assert m.variance({"a": 100}, {"a": 101}, tolerance_pct=0) == {"a": "over"}
    assert m.variance({"a": 100}, {"a": 99}, tolerance_pct=0) == {"a": "under"}
    assert m.variance({"a": 100}, {"a": 120}, tolerance_pct=20) == {"a": "on track"}
    assert m.variance({}, {"a": 1}) == {}
    assert m.variance({"misc": 0}, {}) == {"misc": "on track"}


def test_format_cents():
    assert m.format_cents(1_234_567) == "12,345.67"
    assert m.format_cents(5) == "0.05"
    assert m.format_cents(100) == "1.00"
    assert m.format_cents(0) == "0.00"
    assert m.format_cents(-150) == "-1.50"
    assert m.format_cents(-5) == "-0.05"
    assert m.format_cents(-1) == "-0.01"


def test_summarize():
    plan = {"cash": 5_000, "income": 10_000, "costs": 12_000, "income_bp": 100, "costs_bp": 0,
            "months": 3}
    result = m.summarize(plan)
    assert result["net"] == -5_699
    assert result["average"] == pytest.approx(-5_699 / 3)
    assert result["runway"] == 3
    assert set(result) == {"net", "average", "runway"}


def test_summarize_each_key():
    plan = {"cash": 100_000, "income": 9_000, "costs": 8_000, "income_bp": 0, "costs_bp": 500,
            "months": 2}
    assert m.summarize(plan) == {"net": 18_000 - 16_400, "average": 800.0, "runway": None}
    plan["cash"] = 0
    plan["months"] = 4
    # costs 8000, 8400, 8820, 9261 vs income 9000 each -> balance 1000, 1600, 1780, 1519
    assert m.summarize(plan) == {"net": 36_000 - 34_481, "average": 379.75, "runway": None}
    plan["costs_bp"] = 1_500
    # costs 8000, 9200, 10580 -> balance 1000, 800, -780
    assert m.summarize(plan)["runway"] == 3
