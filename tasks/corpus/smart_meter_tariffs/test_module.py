from datetime import date, datetime

import pytest

import module as m

TARIFF = m.Tariff(rates={"off_peak": 1350, "standard": 2450, "peak": 3800},
                  standing=[(date(2024, 4, 1), 5335), (date(2024, 7, 1), 4987)], export_rate=1500)
R = m.Reading


def test_band_boundaries_on_a_weekday():
    monday = (2024, 5, 6)
    assert m.band_for(datetime(*monday, 0, 29)) == "standard"
    assert m.band_for(datetime(*monday, 0, 30)) == "off_peak"
    assert m.band_for(datetime(*monday, 7, 29)) == "off_peak"
    assert m.band_for(datetime(*monday, 7, 30)) == "standard"
    assert m.band_for(datetime(*monday, 15, 59)) == "standard"
    assert m.band_for(datetime(*monday, 16, 0)) == "peak"
    assert m.band_for(datetime(*monday, 18, 30)) == "peak"
    assert m.band_for(datetime(*monday, 19, 0)) == "standard"
    assert m.band_for(datetime(*monday, 23, 30)) == "standard"


def test_no_peak_at_weekends():
    assert m.band_for(datetime(2024, 5, 10, 17, 0)) == "peak"  # Friday
    assert m.band_for(datetime(2024, 5, 11, 17, 0)) == "standard"  # Saturday
    assert m.band_for(datetime(2024, 5, 12, 16, 0)) == "standard"  # Sunday
    assert m.band_for(datetime(2024, 5, 11, 1, 0)) == "off_peak"


def test_usage_by_band():
    intervals = [(datetime(2024, 5, 6, 1, 0), 200), (datetime(2024, 5, 6, 17, 0), 500),
                 (datetime(2024, 5, 6, 12, 0), 300), (datetime(2024, 5, 11, 17, 30), 400),
                 (datetime(2024, 5, 6, 7, 0), 100), (datetime(2024, 5, 7, 16, 30), 0)]
    assert m.usage_by_band(intervals) == {"off_peak": 300, "standard": 700, "peak": 500}
    assert m.usage_by_band([]) == {"off_peak": 0, "standard": 0, "peak": 0}
    with pytest.raises(ValueError):
        m.usage_by_band([(datetime(2024, 5, 6, 1, 0), -1)])


def test_register_advance_and_rollover():
    assert m.register_advance(100, 250) == 150
    assert m.register_advance(500, 500) == 0
    assert m.register_advance(99990, 15) == 25
    assert m.register_advance(99999, 0) == 1
    assert m.register_advance(80001, 1) == 20000
    assert m.register_advance(12000, 32000) == 20000


def test_register_advance_refusals():
    for previous, current in ((12000, 32001), (0, 99999), (250, 100), (100000, 5), (5, 100000), (99990, 100005), (-1, 5), (5, -1)):
        with pytest.raises(ValueError):
            m.register_advance(previous, current)


def test_estimate_reading_on_the_straight_line():
    before, after = R(date(2024, 5, 1), 1000), R(date(2024, 5, 31), 1300)
    assert m.estimate_reading(before, after, date(2024, 5, 16)) == 1150
    assert m.estimate_reading(before, after, date(2024, 5, 2)) == 1010
    assert m.estimate_reading(before, after, date(2024, 5, 1)) == 1000
    assert m.estimate_reading(before, after, date(2024, 5, 31)) == 1300
    assert m.estimate_reading(before, R(date(2024, 5, 31), 1301), date(2024, 5, 16)) == 1150


def test_estimate_reading_across_a_rollover():
    before, after = R(date(2024, 5, 1), 99900), R(date(2024, 5, 11), 100)
    assert m.estimate_reading(before, after, date(2024, 5, 6)) == 0
    assert m.estimate_reading(before, after, date(2024, 5, 9)) == 60
    assert m.estimate_reading(before, after, date(2024, 5, 3)) == 99940


def test_estimate_reading_refusals():
    before, after = R(date(2024, 5, 1), 1000), R(date(2024, 5, 31), 1300)
    for day in (date(2024, 4, 30), date(2024, 6, 1)):
        with pytest.raises(ValueError):
            m.estimate_reading(before, after, day)
    with pytest.raises(ValueError):
        m.estimate_reading(before, R(date(2024, 5, 1), 1000), date(2024, 5, 1))
    with pytest.raises(ValueError):
        m.estimate_reading(after, before, date(2024, 5, 16))


def test_reading_on_prefers_actuals_and_estimates_between_them():
    readings = [R(date(2024, 6, 30), 1600), R(date(2024, 5, 10), 1111, actual=False),
                R(date(2024, 5, 1), 1000), R(date(2024, 5, 31), 1300)]
    assert m.reading_on(readings, date(2024, 5, 16)) == R(date(2024, 5, 16), 1150, actual=False)
    assert m.reading_on(readings, date(2024, 5, 31)) is readings[3]
    assert m.reading_on(readings, date(2024, 5, 1)) is readings[2]
    assert m.reading_on(readings, date(2024, 6, 15)) == R(date(2024, 6, 15), 1450, actual=False)
    assert m.reading_on(readings, date(2024, 5, 10)) == R(date(2024, 5, 10), 1090, actual=False)
    for day in (date(2024, 4, 1), date(2024, 7, 1)):
        with pytest.raises(LookupError):
            m.reading_on(readings, day)
    with pytest.raises(LookupError):
        m.reading_on([R(date(2024, 5, 1), 1000), R(date(2024, 5, 31), 1300, actual=False)], date(2024, 5, 16))


def test_reconcile_bills_missing_intervals_at_standard():
    by_band = {"off_peak": 300_000, "standard": 200_000, "peak": 100_000}
    assert m.reconcile(by_band, 650) == {"off_peak": 300_000, "standard": 250_000, "peak": 100_000}
    assert m.reconcile(by_band, 600) == by_band
    assert by_band == {"off_peak": 300_000, "standard": 200_000, "peak": 100_000}
    assert m.reconcile({"off_peak": 500}, 1) == {"off_peak": 500, "standard": 500}
    with pytest.raises(ValueError):
        m.reconcile(by_band, 599)


def test_rate_on_uses_the_rate_in_force():
    assert m.rate_on(TARIFF.standing, date(2024, 4, 1)) == 5335
    assert m.rate_on(TARIFF.standing, date(2024, 6, 30)) == 5335
    assert m.rate_on(TARIFF.standing, date(2024, 7, 1)) == 4987
    assert m.rate_on(TARIFF.standing, date(2025, 1, 1)) == 4987
    with pytest.raises(LookupError):
        m.rate_on(TARIFF.standing, date(2024, 3, 31))


def test_standing_charge_per_day_across_a_price_change():
    assert m.standing_charge(TARIFF.standing, date(2024, 6, 28), date(2024, 7, 3)) == 3 * 5335 + 2 * 4987
    assert m.standing_charge(TARIFF.standing, date(2024, 5, 1), date(2024, 5, 2)) == 5335
    assert m.standing_charge(TARIFF.standing, date(2024, 5, 1), date(2024, 5, 1)) == 0
    assert m.standing_charge(TARIFF.standing, date(2024, 5, 1), date(2024, 5, 31)) == 30 * 5335


def test_vat_percent():
    assert m.vat_percent(330, 10, domestic=False) == 5
    assert m.vat_percent(331, 10, domestic=False) == 20
    assert m.vat_percent(5000, 10, domestic=True) == 5
    assert m.vat_percent(0, 30, domestic=False) == 5


def test_monthly_bill_rounds_each_charge_to_the_penny():
    by_band = {"off_peak": 120_000, "standard": 150_021, "peak": 30_000}
    bill = m.monthly_bill(TARIFF, by_band, 200_099, date(2024, 5, 1), date(2024, 5, 31))
    # energy 6435.5145p -> 6436; standing 30 x 53.35p = 1600.50p -> 1601; VAT 5 % of 8037 = 401.85 -> 402;
    # export 200.099 kWh x 15p = 3001.485p -> 3001, netted after VAT.
    assert bill == {"energy": 6436, "standing": 1601, "vat": 402, "export_credit": 3001, "due": 5438,
                    "carried_forward": 0}


def test_monthly_bill_for_a_business_above_the_de_minimis():
    bill = m.monthly_bill(TARIFF, {"standard": 1_000_000}, 0, date(2024, 5, 1), date(2024, 5, 31), domestic=False)
    assert bill == {"energy": 24500, "standing": 1601, "vat": 5220, "export_credit": 0, "due": 31321,
                    "carried_forward": 0}
    domestic = m.monthly_bill(TARIFF, {"standard": 1_000_000}, 0, date(2024, 5, 1), date(2024, 5, 31))
    assert domestic["vat"] == 1305 and domestic["due"] == 27406
    small = m.monthly_bill(TARIFF, {"standard": 990_000}, 0, date(2024, 5, 1), date(2024, 5, 31), domestic=False)
    assert small["energy"] == 24255 and small["vat"] == 1293


def test_monthly_bill_carries_an_export_surplus_forward():
    bill = m.monthly_bill(TARIFF, {"off_peak": 10_000, "standard": 0, "peak": 0}, 500_000, date(2024, 5, 1),
                          date(2024, 5, 31), credit_brought_forward=250)
    assert bill == {"energy": 135, "standing": 1601, "vat": 87, "export_credit": 7750, "due": 0,
                    "carried_forward": 5927}
    even = m.monthly_bill(TARIFF, {"off_peak": 10_000}, 0, date(2024, 5, 1), date(2024, 5, 31),
                          credit_brought_forward=1823)
    assert even["due"] == 0 and even["carried_forward"] == 0


def test_monthly_bill_over_a_price_change_and_in_whole_kwh():
    bill = m.monthly_bill(TARIFF, {"standard": 990_500}, 0, date(2024, 5, 1), date(2024, 5, 31), domestic=False)
    assert bill["energy"] == 24267 and bill["vat"] == 1293  # 990.5 kWh count as 990, 33 a day
    short = m.monthly_bill(TARIFF, {"peak": 1_000}, 0, date(2024, 6, 28), date(2024, 7, 3))
    # standing 3 x 53.35p + 2 x 49.87p = 259.79p -> 260; energy 1 kWh x 38p; VAT 5 % of 298 = 14.9 -> 15
    assert short == {"energy": 38, "standing": 260, "vat": 15, "export_credit": 0, "due": 313, "carried_forward": 0}
    assert all(type(value) is int for value in short.values())
