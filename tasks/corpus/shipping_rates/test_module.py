import pytest

import module as m

TABLES = {
    1: [(1.0, 500), (5.0, 900), (20.0, 1500)],
    2: [(1.0, 700), (5.0, 1234), (20.0, 2100)],
    3: [(1.0, 900), (5.0, 1600), (20.0, 2800)],
}


def pkg(weight=1.0, length=10, width=10, height=10, residential=False):
    return m.Package(weight, length, width, height, residential)


def test_dimensional_weight_is_true_division():
    assert m.dimensional_weight(pkg(length=30, width=20, height=10)) == 1.2
    assert m.dimensional_weight(pkg(length=30, width=20, height=10), divisor=6000) == 1.0
    assert m.dimensional_weight(pkg(length=50, width=40, height=30)) == 12.0


def test_billable_weight_uses_dimensional_when_larger():
    assert m.billable_weight(pkg(weight=0.4, length=30, width=20, height=10)) == 1.5


def test_billable_weight_uses_actual_when_larger():
    assert m.billable_weight(pkg(weight=3.2, length=10, width=10, height=10)) == 3.5


def test_billable_weight_exact_half_kilo_not_rounded_up():
    assert m.billable_weight(pkg(weight=2.0)) == 2.0
    assert m.billable_weight(pkg(weight=2.5)) == 2.5
    assert m.billable_weight(pkg(weight=2.01)) == 2.5


def test_is_oversize_longest_side_boundary():
    assert m.is_oversize(pkg(length=120, width=10, height=10)) is False
    assert m.is_oversize(pkg(length=121, width=10, height=10)) is True
    assert m.is_oversize(pkg(length=10, width=130, height=10)) is True
    assert m.is_oversize(pkg(length=10, width=10, height=125)) is True


def test_is_oversize_length_plus_girth_boundary():
    assert m.is_oversize(pkg(length=100, width=50, height=50)) is False
    assert m.is_oversize(pkg(length=100, width=50, height=51)) is True
    assert m.is_oversize(pkg(length=50, width=100, height=51)) is True


def test_small_package_not_oversize():
    assert m.is_oversize(pkg(length=40, width=30, height=20)) is False


def test_rate_for_weight_brackets_and_limits():
    table = TABLES[1]
    assert m.rate_for_weight(0.5, table) == 500
    assert m.rate_for_weight(1.0, table) == 500
    assert m.rate_for_weight(1.5, table) == 900
    assert m.rate_for_weight(5.0, table) == 900
    assert m.rate_for_weight(20.0, table) == 1500
    assert m.rate_for_weight(20.5, table) is None
    assert m.rate_for_weight(1.0, []) is None


def test_zone_between():
    assert m.zone_between("10115", "10115") == 1
    assert m.zone_between("10115", "10199") == 1
    assert m.zone_between("10115", "10299") == 2
    assert m.zone_between("10115", "19999") == 2
    assert m.zone_between("10115", "80331") == 3


def test_surcharges_each_fee():
    assert m.surcharges(pkg()) == {}
    assert m.surcharges(pkg(residential=True)) == {"residential": 450}
    assert m.surcharges(pkg(length=130)) == {"oversize": 2500}
    both = m.surcharges(pkg(length=130, residential=True))
    assert both == {"residential": 450, "oversize": 2500}


def test_quote_zone_two_with_fuel_rounded_down():
    result = m.quote(pkg(weight=3.0), TABLES, "10115", "19999")
    assert result == {"zone": 2, "base": 1234, "fuel": 148, "fees": {}, "total": 1382}
    assert isinstance(result["fuel"], int)


def test_quote_zone_one_with_fees():
    result = m.quote(pkg(weight=0.8, residential=True), TABLES, "10115", "10117")
    assert result["zone"] == 1
    assert result["base"] == 500
    assert result["fuel"] == 60
    assert result["fees"] == {"residential": 450}
    assert result["total"] == 1010


def test_quote_zone_three_oversize():
    result = m.quote(pkg(weight=10.0, length=130), TABLES, "10115", "80331")
    assert result["zone"] == 3
    assert result["base"] == 2800
    assert result["fuel"] == 336
    assert result["total"] == 2800 + 336 + 2500


def test_quote_too_heavy_raises():
    with pytest.raises(ValueError):
        m.quote(pkg(weight=25.0), TABLES, "10115", "10115")


def test_split_parcels_fills_to_exact_limit():
    assert m.split_parcels([2, 3, 5, 1], 5) == [[2, 3], [5], [1]]


def test_split_parcels_resets_load_after_new_parcel():
    assert m.split_parcels([4, 4, 1], 5) == [[4], [4, 1]]
    assert m.split_parcels([1, 1, 1, 4, 1], 5) == [[1, 1, 1], [4, 1]]


def test_split_parcels_edge_cases():
    assert m.split_parcels([], 5) == []
    assert m.split_parcels([5], 5) == [[5]]
    assert m.split_parcels([0.5, 0.5], 5) == [[0.5, 0.5]]
    with pytest.raises(ValueError):
        m.split_parcels([1, 6], 5)


def test_cheapest_service_prefers_first_on_tie():
    assert m.cheapest_service({"ground": 900, "express": 1500, "saver": 900}) == "ground"
    assert m.cheapest_service({"express": 1500, "saver": 800, "ground": 900}) == "saver"
    assert m.cheapest_service({"express": 1500}) == "express"
    assert m.cheapest_service({}) is None


def test_check_digit_known_numbers():
    assert m.check_digit("629104150021") == 3
    assert m.check_digit("400638133393") == 1
    assert m.check_digit("000000000000") == 0
    assert m.check_digit("7") == 9
    assert m.check_digit("10") == 9


def test_package_defaults_to_business_address():
    plain = m.Package(2.0, 10, 10, 10)
    assert plain.residential is False
    assert m.surcharges(plain) == {}
