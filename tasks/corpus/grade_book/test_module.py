import pytest

import module as m

FULL = {
    "homework": [(90, 100)],
    "quiz": [(80, 100)],
    "midterm": [(70, 100)],
    "final": [(100, 100)],
}


def test_percent():
    assert m.percent(45, 50) == 90.0
    assert m.percent(0, 0) == 0.0
    assert m.percent(5, -1) == 0.0
    assert m.percent(1, 3) == pytest.approx(33.3333, abs=1e-3)
    assert m.percent(3, 2) == 150.0
    assert m.percent(1, 1) == 100.0


def test_late_penalty():
    assert m.late_penalty(80, 0) == 80
    assert m.late_penalty(80, -1) == 80
    assert m.late_penalty(80, 1) == 72.0
    assert m.late_penalty(80, 5) == 40.0
    assert m.late_penalty(80, 6) == 0.0
    assert m.late_penalty(80, 2, per_day=20) == 48.0
    assert m.late_penalty(80, 3, max_days=2) == 0.0
    assert m.late_penalty(80, 2, max_days=2) == 64.0
    assert m.late_penalty(7, 1) == 6.3


def test_category_average_drops():
    scores = [(8, 10), (5, 10), (10, 10)]
    assert m.category_average(scores) == pytest.approx(76.6667, abs=1e-3)
    assert m.category_average(scores, 1) == 90.0
    assert m.category_average(scores, 2) == 100.0
    assert m.category_average(scores, 3) is None
    assert m.category_average([]) is None
    assert m.category_average([(7, 10)]) == 70.0


def test_category_average_drops_by_percentage_not_points():
    assert m.category_average([(9, 20), (4, 5)], 1) == 80.0
    assert m.category_average([(4, 5), (9, 20)], 1) == 80.0
    assert m.category_average([(10, 20), (30, 40)]) == pytest.approx(66.6667, abs=1e-3)


def test_weighted_grade_all_categories():
    assert m.weighted_grade(FULL) == pytest.approx(87.0)


def test_weighted_grade_each_weight():
    assert m.weighted_grade({"homework": [(100, 100)], "final": [(0, 100)]}) == pytest.approx(
        100 * 0.25 / 0.6)
    assert m.weighted_grade({"quiz": [(100, 100)], "midterm": [(0, 100)]}) == pytest.approx(37.5)
    assert m.weighted_grade({"midterm": [(100, 100)], "final": [(0, 100)]}) == pytest.approx(
        100 * 0.25 / 0.6)
    assert m.weighted_grade({"final": [(80, 100)]}) == pytest.approx(80.0)


def test_weighted_grade_empty_and_unknown():
    assert m.weighted_grade({}) == 0.0
    assert m.weighted_grade({"lab": [(10, 10)]}) == 0.0
    assert m.weighted_grade({"homework": [], "final": [(50, 100)]}) == pytest.approx(50.0)


def test_weighted_grade_drops():
    scores = {"quiz": [(0, 10), (10, 10)], "final": [(100, 100)]}
    assert m.weighted_grade(scores, {"quiz": 1}) == pytest.approx(100.0)
    assert m.weighted_grade(scores) == pytest.approx((50 * 0.15 + 100 * 0.35) / 0.5)
    assert m.weighted_grade(scores) == pytest.approx(85.0)
    assert m.weighted_grade({"quiz": [(5, 10)]}, {"quiz": 1}) == 0.0


def test_round_half_up():
    assert m.round_half_up(89.5) == 90
    assert m.round_half_up(89.45) == 89
    assert m.round_half_up(89.49) == 89
    assert m.round_half_up(90.0) == 90
    assert m.round_half_up(59.95) == 60
    assert m.round_half_up(0.04) == 0
    assert isinstance(m.round_half_up(72.6), int)
    assert m.round_half_up(72.6) == 73


def test_letter_grade_cutoffs():
    expected = {100: "A", 93: "A", 92.9: "A-", 90: "A-", 89: "B+", 87: "B+", 86: "B", 83: "B",
                82: "B-", 80: "B-", 79: "C", 70: "C", 69: "D", 60: "D", 59: "F", 0: "F"}
    for pct, letter in expected.items():
        assert m.letter_grade(pct) == letter, pct


def test_curve():
    assert m.curve({"a": 85, "b": 70}) == {"a": 95, "b": 80}
    assert m.curve({"a": 96, "b": 50}) == {"a": 100, "b": 54}
    assert m.curve({"a": 100, "b": 50}) == {"a": 100, "b": 50}
    assert m.curve({"a": 95, "b": 60}, target=90) == {"a": 95, "b": 60}
    assert m.curve({"a": 98, "b": 60}, target=105) == {"a": 100, "b": 67}
    assert m.curve({"a": 80}, cap=5) == {"a": 85}
    assert m.curve({}) == {}


def test_class_rank_ties():
    grades = {"a": 90, "b": 80, "c": 90, "d": 70}
    assert m.class_rank(grades, "a") == 1
    assert m.class_rank(grades, "c") == 1
    assert m.class_rank(grades, "b") == 3
    assert m.class_rank(grades, "d") == 4
    assert m.class_rank({"solo": 10}, "solo") == 1


def test_summary():
    result = m.summary({"a": 90, "b": 59.9, "c": 60, "d": 70})
    assert result["mean"] == pytest.approx(69.975)
    assert result["median"] == 65.0
    assert result["passing"] == 3
    assert result["failing"] == 1
    assert m.summary({}) == {"mean": 0.0, "median": 0.0, "passing": 0, "failing": 0}
    assert m.summary({"x": 42}) == {"mean": 42.0, "median": 42, "passing": 0, "failing": 1}
    assert m.summary({"x": 60, "y": 61}) == {"mean": 60.5, "median": 60.5, "passing": 2,
                                             "failing": 0}


def test_report_line():
    record = {"id": 42, "name": "Ann", "scores": FULL}
    assert m.report_line(record) == "    42 Ann           87% B+"
    dropped = {"id": 7, "name": "Bo", "scores": {"quiz": [(0, 10), (9, 10)]}, "drops": {"quiz": 1}}
    assert m.report_line(dropped) == "     7 Bo            90% A-"
    failing = {"id": 8, "name": "Cy", "scores": {"final": [(595, 1000)]}}
    assert m.report_line(failing) == "     8 Cy            60% D"
