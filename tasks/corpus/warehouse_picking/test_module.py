import pytest

import module as m

B = m.Bin
WAVES = [(600, "W1"), (840, "W2"), (1020, "W3")]


def test_parse_bin():
    assert m.parse_bin("07-12-3") == B(7, 12, 3)
    location = m.parse_bin("1-20-5")
    assert (location.aisle, location.bay, location.level) == (1, 20, 5)


def test_pick_list_sums_per_sku():
    orders = [{"lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]},
              {"lines": []},
              {"lines": [{"sku": "A", "qty": 3}]}]
    assert m.pick_list(orders) == {"A": 5, "B": 1}
    assert m.pick_list([]) == {}


def test_shortages():
    demand = {"A": 5, "B": 2, "C": 1}
    assert m.shortages(demand, {"A": 5, "B": 1}) == {"B": 1, "C": 1}
    assert m.shortages(demand, {"A": 9, "B": 9, "C": 9}) == {}
    assert m.shortages({}, {"A": 1}) == {}


def test_route_key_alternates_direction():
    assert m.route_key(B(1, 5, 2)) == (1, 5, 2)
    assert m.route_key(B(2, 5, 2)) == (2, -5, 2)
    assert m.route_key(B(3, 5, 1)) == (3, 5, 1)


def test_plan_route_serpentine_and_dedupe():
    stops = [B(2, 3, 1), B(1, 9, 1), B(1, 2, 1), B(2, 8, 1), B(3, 1, 1), B(1, 2, 1)]
    assert m.plan_route(stops) == [B(1, 2, 1), B(1, 9, 1), B(2, 8, 1), B(2, 3, 1), B(3, 1, 1)]
    assert m.plan_route([B(1, 2, 3), B(1, 2, 1)]) == [B(1, 2, 1), B(1, 2, 3)]
    assert m.plan_route([]) == []


def test_walk_distance():
    route = [B(1, 2, 1), B(1, 9, 1), B(2, 8, 1), B(2, 3, 1)]
    assert m.walk_distance(route) == 23.5
    assert m.walk_distance([B(1, 2, 1), B(3, 2, 4)]) == 8.0
    assert m.walk_distance([B(4, 4, 4)]) == 0.0
    assert m.walk_distance([]) == 0.0


def test_aisle_changes():
    assert m.aisle_changes([B(1, 2, 1), B(1, 9, 1), B(2, 8, 1), B(2, 3, 1)]) == 1
    assert m.aisle_changes([B(1, 1, 1), B(2, 1, 1), B(3, 1, 1)]) == 2
    assert m.aisle_changes([B(1, 1, 1), B(1, 1, 2)]) == 0
    assert m.aisle_changes([]) == 0


def test_needs_reach_truck():
    stops = [B(1, 1, 4), B(1, 2, 5), B(2, 1, 1), B(2, 2, 6)]
    assert m.needs_reach_truck(stops) == [B(1, 2, 5), B(2, 2, 6)]
    assert m.needs_reach_truck([]) == []


def test_batch_into_totes_first_fit_decreasing():
    items = [("A", 10), ("B", 8), ("C", 9), ("D", 1)]
    assert m.batch_into_totes(items) == [["A", "B"], ["C", "D"]]
    assert m.batch_into_totes(items, capacity=20) == [["A", "C", "D"], ["B"]]
    assert m.batch_into_totes([("X", 18.0)]) == [["X"]]
    assert m.batch_into_totes([]) == []


def test_batch_into_totes_second_tote_used_before_new_one():
    items = [("A", 10), ("B", 9), ("C", 7), ("D", 6)]
    assert m.batch_into_totes(items) == [["A", "C"], ["B", "D"]]


def test_batch_into_totes_rejects_overweight_item():
    with pytest.raises(ValueError):
        m.batch_into_totes([("A", 1), ("ANVIL", 18.5)])
    with pytest.raises(ValueError):
        m.batch_into_totes([("A", 6)], capacity=5)


def test_assign_wave():
    assert m.assign_wave(500, WAVES) == "W1"
    assert m.assign_wave(600, WAVES) == "W1"
    assert m.assign_wave(601, WAVES) == "W2"
    assert m.assign_wave(1020, WAVES) == "W3"
    assert m.assign_wave(1021, WAVES) is None
    assert m.assign_wave(0, []) is None


def test_pick_rate():
    assert m.pick_rate(90, 30) == 180.0
    assert m.pick_rate(100, 45) == pytest.approx(133.333333)
    assert m.pick_rate(7, 1) == 420.0
    assert m.pick_rate(50, 0) == 0.0
    assert m.pick_rate(50, -5) == 0.0


def test_top_movers():
    counts = {"A": 5, "B": 9, "C": 5, "D": 1}
    assert m.top_movers(counts) == ["B", "A", "C"]
    assert m.top_movers(counts, n=1) == ["B"]
    assert m.top_movers(counts, n=10) == ["B", "A", "C", "D"]
    assert m.top_movers({}) == []
