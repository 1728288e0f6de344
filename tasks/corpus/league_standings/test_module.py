from collections import Counter

import pytest

import module as m

M = m.Match


def teams_of(ranked):
    return [row["team"] for row in ranked]


def row(team, points, played, goals_for=0, goals_against=0):
    return {"team": team, "points": points, "played": played, "goals_for": goals_for, "goals_against": goals_against}


def test_outcome():
    assert m.outcome(2, 1) == "W"
    assert m.outcome(1, 1) == "D"
    assert m.outcome(0, 0) == "D"
    assert m.outcome(0, 3) == "L"
    assert m.outcome(1, 2) == "L"


def test_build_table_counts_every_column():
    matches = [M(1, "Ash", "Bex", 2, 0), M(1, "Cro", "Dar", 1, 1), M(2, "Bex", "Ash", 3, 1),
               M(2, "Dar", "Cro", None, None), M(3, "Ash", "Cro", 0, 4)]
    table = m.build_table(["Ash", "Bex", "Cro", "Dar"], matches)
    assert table["Ash"] == {"team": "Ash", "played": 3, "won": 1, "drawn": 0, "lost": 2,
                            "goals_for": 3, "goals_against": 7, "points": 3}
    assert table["Bex"] == {"team": "Bex", "played": 2, "won": 1, "drawn": 0, "lost": 1,
                            "goals_for": 3, "goals_against": 3, "points": 3}
    assert table["Cro"] == {"team": "Cro", "played": 2, "won": 1, "drawn": 1, "lost": 0,
                            "goals_for": 5, "goals_against": 1, "points": 4}
    assert table["Dar"]["played"] == 1 and table["Dar"]["drawn"] == 1 and table["Dar"]["points"] == 1


def test_build_table_skips_half_entered_scores_and_keeps_going():
    matches = [M(1, "Ash", "Bex", 1, None), M(1, "Bex", "Ash", 1, 0), M(2, "Ash", "Bex", None, 2), M(3, "Ash", "Bex", 2, 2)]
    table = m.build_table(["Ash", "Bex"], matches)
    assert (table["Ash"]["played"], table["Ash"]["points"], table["Bex"]["points"]) == (2, 1, 4)


def test_build_table_with_other_scoring_and_deductions():
    matches = [M(1, "Ash", "Bex", 80, 75), M(2, "Bex", "Ash", 90, 70), M(3, "Ash", "Bex", 60, 60)]
    table = m.build_table(["Ash", "Bex"], matches, m.Scoring(win=2, draw=1, loss=1))
    assert table["Ash"]["points"] == 2 + 1 + 1
    assert table["Bex"]["points"] == 1 + 2 + 1
    deducted = m.build_table(["Ash", "Bex"], matches, deductions={"Bex": 5})
    assert deducted["Bex"]["points"] == 4 - 5
    assert deducted["Ash"]["points"] == 4


def test_build_table_refuses_unknown_teams():
    with pytest.raises(ValueError):
        m.build_table(["Ash", "Bex"], [M(1, "Ash", "Zed", 1, 0)])
    with pytest.raises(ValueError):
        m.build_table(["Ash", "Bex"], [M(1, "Zed", "Bex", 1, 0)])


def test_overall_key():
    assert m.overall_key(row("Ash", 10, 5, goals_for=9, goals_against=4)) == (10, 5, 9)


def test_standings_by_points_then_goals_scored():
    matches = [M(1, "A", "B", 2, 0), M(1, "C", "D", 1, 1), M(2, "A", "C", 0, 1), M(2, "B", "D", 3, 0),
               M(3, "A", "D", 1, 1), M(3, "B", "C", 2, 2)]
    ranked = m.standings(["A", "B", "C", "D"], matches)
    assert teams_of(ranked) == ["C", "B", "A", "D"]
    assert [row["position"] for row in ranked] == [1, 2, 3, 4]
    assert [row["points"] for row in ranked] == [5, 4, 4, 2]


def test_goal_difference_before_goals_scored():
    matches = [M(1, "B", "C", 2, 0), M(2, "A", "C", 3, 2)]
    assert teams_of(m.standings(["A", "B", "C"], matches)) == ["B", "A", "C"]


def test_head_to_head_decides_between_two_level_teams():
    matches = [M(1, "B", "A", 1, 0), M(2, "A", "C", 2, 1), M(3, "C", "B", 2, 1)]
    ranked = m.standings(["A", "B", "C"], matches)
    assert teams_of(ranked) == ["C", "B", "A"]
    assert [row["position"] for row in ranked] == [1, 2, 3]


def test_head_to_head_mini_table_of_three():
    matches = [M(1, "C", "A", 1, 0), M(1, "B", "D", 2, 1), M(2, "A", "B", 1, 0), M(2, "D", "C", 2, 1),
               M(3, "B", "C", 0, 0), M(3, "A", "D", 1, 1)]
    ranked = m.standings(["A", "B", "C", "D"], matches)
    assert teams_of(ranked) == ["D", "C", "A", "B"]
    assert {row["points"] for row in ranked} == {4}


def test_head_to_head_ignores_matches_against_others():
    # A and B are level overall; their own match was a draw, so the name decides, not C's results.
    matches = [M(1, "A", "B", 1, 1), M(2, "C", "A", 0, 3), M(3, "B", "C", 3, 0), M(4, "A", "C", 0, 0), M(5, "C", "B", 0, 0)]
    assert teams_of(m.standings(["B", "C", "A"], matches)) == ["A", "B", "C"]


def test_level_on_everything_goes_by_name():
    assert teams_of(m.standings(["Yeovil", "Exeter", "Wycombe"], [])) == ["Exeter", "Wycombe", "Yeovil"]
    ranked = m.standings(["Yeovil", "Exeter", "Wycombe", "Barnet"], [M(1, "Yeovil", "Barnet", 1, 0)])
    assert teams_of(ranked) == ["Yeovil", "Exeter", "Wycombe", "Barnet"]
    assert ranked[-1]["position"] == 4


def test_deductions_change_the_order():
    matches = [M(1, "A", "B", 1, 0), M(2, "A", "C", 1, 0), M(3, "B", "C", 1, 0)]
    assert teams_of(m.standings(["A", "B", "C"], matches)) == ["A", "B", "C"]
    assert teams_of(m.standings(["A", "B", "C"], matches, deductions={"A": 4})) == ["B", "A", "C"]
    assert teams_of(m.standings(["A", "B", "C"], matches, deductions={"A": 7})) == ["B", "C", "A"]


def test_form_is_the_latest_results_oldest_first():
    matches = [M(4, "Ash", "Bex", 0, 1), M(1, "Ash", "Cro", 2, 0), M(2, "Dar", "Ash", 1, 1),
               M(3, "Bex", "Ash", 0, 2), M(5, "Cro", "Ash", None, None), M(6, "Cro", "Dar", 3, 3), M(6, "Ash", "Dar", 5, 0)]
    assert m.form("Ash", matches) == "WDWLW"
    assert m.form("Ash", matches, last=3) == "WLW"
    assert m.form("Ash", matches, last=10) == "WDWLW"
    assert m.form("Ash", matches, last=0) == ""
    assert m.form("Dar", matches) == "DDL"
    assert m.form("Bex", matches) == "LW"
    assert m.form("Eve", matches) == ""


def test_form_skips_scores_not_entered():
    assert m.form("Ash", [M(1, "Ash", "Bex", 1, 0), M(2, "Ash", "Bex", 2, None), M(3, "Bex", "Ash", 0, 0)]) == "WD"


def test_round_robin_of_four():
    assert m.round_robin(["A", "B", "C", "D"], double=False) == [
        [("A", "D"), ("B", "C")], [("C", "A"), ("D", "B")], [("A", "B"), ("C", "D")]]
    rounds = m.round_robin(["A", "B", "C", "D"])
    assert len(rounds) == 6
    assert rounds[3:] == [[("D", "A"), ("C", "B")], [("A", "C"), ("B", "D")], [("B", "A"), ("D", "C")]]


@pytest.mark.parametrize("size", [2, 3, 5, 6, 7, 10])
def test_round_robin_everyone_meets_everyone_once(size):
    teams = [f"T{i}" for i in range(size)]
    rounds = m.round_robin(teams, double=False)
    assert len(rounds) == size - 1 + size % 2
    pairs = [frozenset(pair) for fixtures in rounds for pair in fixtures]
    assert len(pairs) == len(set(pairs)) == size * (size - 1) // 2
    for fixtures in rounds:
        playing = [team for pair in fixtures for team in pair]
        assert len(playing) == len(set(playing)) == size - size % 2
    home = Counter(pair[0] for fixtures in rounds for pair in fixtures)
    away = Counter(pair[1] for fixtures in rounds for pair in fixtures)
    assert all(abs(home[team] - away[team]) <= 1 for team in teams)


def test_round_robin_double_mirrors_the_first_half():
    rounds = m.round_robin(["A", "B", "C", "D", "E"])
    assert len(rounds) == 10
    assert rounds[5:] == [[(away, home) for home, away in fixtures] for fixtures in rounds[:5]]
    assert m.round_robin(["A", "B"]) == [[("A", "B")], [("B", "A")]]


def test_zones():
    ranked = [row(f"T{i}", 30 - i, 20) for i in range(1, 11)]
    marks = m.zones(ranked)
    assert [marks[f"T{i}"] for i in range(1, 11)] == ["promoted"] * 2 + ["playoff"] * 4 + ["safe"] + ["relegated"] * 3
    marks = m.zones(ranked, promoted=1, playoff=0, relegated=2)
    assert [marks[f"T{i}"] for i in range(1, 11)] == ["promoted"] + ["safe"] * 7 + ["relegated"] * 2
    assert list(m.zones(ranked[:9]).values()).count("safe") == 0
    with pytest.raises(ValueError):
        m.zones(ranked[:8])


def test_max_points():
    assert m.max_points(row("A", 12, 10), 14) == 24
    assert m.max_points(row("A", 12, 14), 14) == 12
    assert m.max_points(row("A", 12, 15), 14) == 12
    assert m.max_points(row("A", 5, 1), 3, m.Scoring(win=2, draw=1, loss=1)) == 9


def test_promotion_certain():
    ranked = [row("A", 30, 20), row("B", 28, 20), row("C", 24, 18), row("D", 20, 19)]
    assert m.promotion_certain(ranked, "A", promoted=2, games_per_team=20)
    assert not m.promotion_certain(ranked, "A", promoted=1, games_per_team=20)
    assert m.promotion_certain([row("A", 30, 20), row("B", 28, 20), row("C", 23, 18)], "A", 1, 20)
    assert not m.promotion_certain(ranked, "B", promoted=2, games_per_team=20)
    assert m.promotion_certain(ranked, "B", promoted=3, games_per_team=20)
    assert not m.promotion_certain(ranked, "D", promoted=2, games_per_team=20)
