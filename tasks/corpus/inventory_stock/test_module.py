import pytest

import module as m


def make_warehouse():
    wh = m.Warehouse()
    wh.receive("A1", 10, 100)
    wh.receive("B2", 50, 30)
    wh.receive("C3", 11, 7)
    return wh


def test_available_subtracts_reserved_and_never_negative():
    assert m.StockItem("X", on_hand=10, reserved=3).available() == 7
    assert m.StockItem("X", on_hand=3, reserved=3).available() == 0
    assert m.StockItem("X", on_hand=2, reserved=5).available() == 0


def test_receive_new_sku_creates_item():
    wh = m.Warehouse()
    item = wh.receive("A1", 4, 250)
    assert wh.items["A1"] is item
    assert item.on_hand == 4
    assert item.unit_cost_cents == 250
    assert item.reserved == 0


def test_receive_weighted_average_cost_uses_floor_division():
    wh = m.Warehouse()
    wh.receive("A1", 10, 100)
    item = wh.receive("A1", 20, 201)
    assert item.on_hand == 30
    # (10*100 + 20*201) / 30 = 167.33 -> 167
    assert item.unit_cost_cents == 167
    assert isinstance(item.unit_cost_cents, int)


def test_receive_average_exact():
    wh = m.Warehouse()
    wh.receive("A1", 1, 100)
    assert wh.receive("A1", 3, 300).unit_cost_cents == 250


def test_receive_rejects_zero_and_negative():
    wh = m.Warehouse()
    with pytest.raises(ValueError):
        wh.receive("A1", 0, 100)
    with pytest.raises(ValueError):
        wh.receive("A1", -1, 100)
    assert "A1" not in wh.items
    assert wh.receive("A1", 1, 5).on_hand == 1


def test_reserve_exactly_available_succeeds():
    wh = make_warehouse()
    assert wh.reserve("A1", 10) is True
    assert wh.items["A1"].reserved == 10
    assert wh.reserve("A1", 1) is False
    assert wh.items["A1"].reserved == 10


def test_reserve_more_than_available_fails_without_change():
    wh = make_warehouse()
    assert wh.reserve("A1", 4) is True
    assert wh.reserve("A1", 7) is False
    assert wh.items["A1"].reserved == 4
    assert wh.reserve("A1", 6) is True
    assert wh.items["A1"].reserved == 10


def test_pick_returns_remaining_reserved():
    wh = make_warehouse()
    wh.reserve("B2", 20)
    assert wh.pick("B2", 5) == 15
    assert wh.items["B2"].on_hand == 45
    assert wh.pick("B2", 15) == 0
    assert wh.items["B2"].on_hand == 30


def test_pick_more_than_reserved_raises():
    wh = make_warehouse()
    wh.reserve("B2", 3)
    with pytest.raises(ValueError):
        wh.pick("B2", 4)
    assert wh.items["B2"].reserved == 3
    assert wh.items["B2"].on_hand == 50


def test_needs_reorder_inclusive_and_sorted():
    wh = make_warehouse()
    # A1 available 10 == reorder point 10 -> reorder; C3 11 > 10 -> no
    assert wh.needs_reorder() == ["A1"]
    wh.reserve("C3", 1)
    assert wh.needs_reorder() == ["A1", "C3"]
    wh.reserve("B2", 45)
    assert wh.needs_reorder() == ["A1", "B2", "C3"]


def test_needs_reorder_empty():
    assert m.Warehouse().needs_reorder() == []


def test_valuation():
    wh = make_warehouse()
    assert wh.valuation_cents() == 10 * 100 + 50 * 30 + 11 * 7
    assert m.Warehouse().valuation_cents() == 0


def test_bins_needed_rounds_up():
    assert m.bins_needed(0) == 0
    assert m.bins_needed(1) == 1
    assert m.bins_needed(39) == 1
    assert m.bins_needed(40) == 1
    assert m.bins_needed(41) == 2
    assert m.bins_needed(80) == 2
    assert m.bins_needed(81) == 3


def test_days_of_cover_uses_recent_window_only():
    sales = [100] * 6 + [2] * 14
    # last 14 days sold 2/day -> 28 units last 14 days
    assert m.days_of_cover(28, sales) == 14.0


def test_days_of_cover_short_history_and_float():
    assert m.days_of_cover(10, [4]) == 2.5
    assert m.days_of_cover(9, [1, 2, 3]) == 4.5
    assert m.days_of_cover(0, [5, 5]) == 0.0
    # average 1.5 units/day: true division all the way
    assert m.days_of_cover(3, [1, 2]) == 2.0
    assert m.days_of_cover(10, [1, 2]) == pytest.approx(6.6667, abs=1e-3)


def test_days_of_cover_window_boundary():
    sales = [7] + [1] * 14
    assert m.days_of_cover(14, sales) == 14.0
    sales = [1] * 14 + [15]
    # window is the last 14 days: thirteen 1s and one 15 -> 28 sold, 2/day
    assert m.days_of_cover(10, sales) == 5.0


def test_days_of_cover_without_sales():
    assert m.days_of_cover(10, [0, 0, 0]) is None
    assert m.days_of_cover(10, [5] + [0] * 14) is None


def test_first_stockout_day():
    assert m.first_stockout_day(10, [3, 3, 3, 3]) == 3
    assert m.first_stockout_day(9, [3, 3, 3, 3]) == 3
    assert m.first_stockout_day(8, [3, 3, 3, 3]) == 2


def test_first_stockout_day_first_and_none():
    assert m.first_stockout_day(2, [5, 1]) == 0
    assert m.first_stockout_day(6, [5, 1]) == -1
    assert m.first_stockout_day(5, []) == -1
    assert m.first_stockout_day(5, [1, 1, 4]) == 2


def test_parse_count_sheet_skips_header_and_adds_repeats():
    lines = ["sku,count", "A1, 4", " B2,7", "A1,3"]
    assert m.parse_count_sheet(lines) == {"A1": 7, "B2": 7}


def test_parse_count_sheet_last_line_and_header_only():
    assert m.parse_count_sheet(["sku,count"]) == {}
    assert m.parse_count_sheet(["sku,count", "Z9,1"]) == {"Z9": 1}


def test_count_discrepancies_default_tolerance():
    wh = make_warehouse()
    counts = {"A1": 10, "B2": 49, "C3": 12}
    assert m.count_discrepancies(wh, counts) == {"B2": -1, "C3": 1}


def test_count_discrepancies_tolerance_is_exclusive():
    wh = make_warehouse()
    counts = {"A1": 8, "B2": 49}
    # C3 missing from the count -> counted 0 -> -11
    assert m.count_discrepancies(wh, counts, tolerance=1) == {"A1": -2, "C3": -11}
    assert m.count_discrepancies(wh, counts, tolerance=2) == {"C3": -11}
    assert m.count_discrepancies(wh, counts, tolerance=11) == {}


def test_reorder_lines():
    wh = make_warehouse()
    wh.reserve("C3", 3)
    assert m.reorder_lines(wh, 25) == [("A1", 15), ("C3", 17)]


def test_reorder_lines_appends_to_given_list():
    wh = make_warehouse()
    existing = [("Q0", 1)]
    result = m.reorder_lines(wh, 12, existing)
    assert result is existing
    assert result == [("Q0", 1), ("A1", 2)]


def test_reorder_lines_default_list_not_shared():
    wh = make_warehouse()
    first = m.reorder_lines(wh, 20)
    second = m.reorder_lines(wh, 20)
    assert first == [("A1", 10)]
    assert second == [("A1", 10)]
    assert first is not second
