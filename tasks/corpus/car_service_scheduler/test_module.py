from datetime import date, datetime, time

import pytest

import module as m

MONDAY = date(2024, 3, 4)
FRIDAY = date(2024, 3, 8)
SATURDAY = date(2024, 3, 9)


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute))


def empty_bays(*names):
    return {name: set() for name in names}


def test_add_months_keeps_the_day_or_clamps_to_month_end():
    assert m.add_months(date(2024, 1, 15), 1) == date(2024, 2, 15)
    assert m.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert m.add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert m.add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert m.add_months(date(2024, 12, 15), 12) == date(2025, 12, 15)
    assert m.add_months(date(2024, 7, 31), 6) == date(2025, 1, 31)
    assert m.add_months(date(2024, 5, 31), 24) == date(2026, 5, 31)
    assert m.add_months(date(2024, 3, 10), 0) == date(2024, 3, 10)


def test_service_due_by_mileage_when_that_comes_first():
    # 3,000 miles left at 30 a day: 100 days, one day before the anniversary.
    assert m.service_due("full", date(2023, 6, 10), 40000, 49000, date(2024, 3, 1), 30) == (date(2024, 6, 9), "mileage")
    # 2,500 miles left at 25 a day (100 days) against six months from the last interim service.
    assert m.service_due("interim", date(2024, 1, 5), 10000, 13500, date(2024, 3, 1), 25) == (date(2024, 6, 9), "mileage")
    assert m.service_due("full", date(2023, 6, 10), 40000, 51000, date(2024, 3, 1), 45) == (date(2024, 3, 23), "mileage")


def test_service_due_by_time_when_that_comes_first_or_on_the_same_day():
    assert m.service_due("full", date(2023, 6, 10), 40000, 45000, date(2024, 3, 1), 10) == (date(2024, 6, 10), "time")
    assert m.service_due("full", date(2023, 6, 10), 40000, 49000, date(2024, 3, 1), 29.7) == (date(2024, 6, 10), "time")
    assert m.service_due("major", date(2022, 8, 31), 30000, 41000, date(2024, 3, 1), 20) == (date(2024, 8, 31), "time")
    # A car that stands still is only ever due by time.
    assert m.service_due("interim", date(2024, 1, 5), 10000, 10100, date(2024, 3, 1), 0) == (date(2024, 7, 5), "time")


def test_service_overdue_by_mileage_is_due_today():
    today = date(2024, 3, 1)
    assert m.service_due("full", date(2023, 6, 10), 40000, 52000, today, 30) == (today, "mileage")
    assert m.service_due("full", date(2023, 6, 10), 40000, 52500, today, 0) == (today, "mileage")
    assert m.service_due("full", date(2023, 6, 10), 40000, 52000, today, 0) == (today, "mileage")
    assert m.service_due("full", date(2023, 6, 10), 40000, 51999, today, 0) == (date(2024, 6, 10), "time")


def test_estimate_minutes():
    assert m.estimate_minutes(["mot"], 3) == 60
    assert m.estimate_minutes(["interim"], 3) == 90
    assert m.estimate_minutes(["full", "mot"], 3) == 210
    assert m.estimate_minutes(["timing_belt", "interim", "mot"], 5) == 360


def test_estimate_shares_wheels_off_work_and_adds_time_for_old_cars():
    assert m.estimate_minutes(["full", "brakes"], 4) == 210
    assert m.estimate_minutes(["brakes", "interim"], 4) == 150
    assert m.estimate_minutes(["brakes", "mot"], 4) == 150
    assert m.estimate_minutes(["brakes"], 4) == 90
    assert m.estimate_minutes(["full", "brakes"], 12) == 270
    assert m.estimate_minutes(["full"], 10) == 180
    assert m.estimate_minutes(["full"], 9) == 150
    with pytest.raises(ValueError):
        m.estimate_minutes([], 3)


def test_day_slots_on_a_weekday():
    slots = m.day_slots(MONDAY)
    assert len(slots) == 18
    assert slots[0] == at(MONDAY, 8) and slots[-1] == at(MONDAY, 17)
    assert at(MONDAY, 12) in slots and at(MONDAY, 13) in slots
    assert at(MONDAY, 12, 30) not in slots


def test_day_slots_short_days_and_sunday():
    friday = m.day_slots(FRIDAY)
    assert len(friday) == 16 and friday[-1] == at(FRIDAY, 16)
    saturday = m.day_slots(SATURDAY)
    assert saturday == [at(SATURDAY, 8, 30), at(SATURDAY, 9), at(SATURDAY, 9, 30), at(SATURDAY, 10), at(SATURDAY, 10, 30),
                        at(SATURDAY, 11), at(SATURDAY, 11, 30), at(SATURDAY, 12)]
    assert m.day_slots(date(2024, 3, 10)) == []


def test_find_slot_takes_the_earliest_start_then_the_first_bay():
    bookings = empty_bays("bay1", "bay2")
    assert m.find_slot(bookings, MONDAY, 60) == ("bay1", at(MONDAY, 8))
    bookings["bay1"].update({at(MONDAY, 8), at(MONDAY, 8, 30)})
    assert m.find_slot(bookings, MONDAY, 60) == ("bay2", at(MONDAY, 8))
    bookings["bay2"].add(at(MONDAY, 8, 30))
    assert m.find_slot(bookings, MONDAY, 60) == ("bay1", at(MONDAY, 9))
    assert m.find_slot(bookings, MONDAY, 30) == ("bay2", at(MONDAY, 8))


def test_find_slot_does_not_run_over_lunch_or_closing():
    bookings = empty_bays("bay1")
    bookings["bay1"].update(m.day_slots(MONDAY)[:8])  # 08:00 to 12:00 taken
    assert m.find_slot(bookings, MONDAY, 60) == ("bay1", at(MONDAY, 13))
    assert m.find_slot(bookings, MONDAY, 30) == ("bay1", at(MONDAY, 12))
    assert m.find_slot(empty_bays("bay1"), SATURDAY, 240) == ("bay1", at(SATURDAY, 8, 30))
    assert m.find_slot(empty_bays("bay1"), SATURDAY, 270) is None
    assert m.find_slot(empty_bays("bay1"), date(2024, 3, 10), 30) is None
    full = empty_bays("bay1")
    full["bay1"].update(m.day_slots(FRIDAY)[:-1])
    assert m.find_slot(full, FRIDAY, 30) == ("bay1", at(FRIDAY, 16))
    assert m.find_slot(full, FRIDAY, 60) is None
    gap = empty_bays("bay1")
    gap["bay1"].update(slot for slot in m.day_slots(MONDAY) if slot != at(MONDAY, 9))
    assert m.find_slot(gap, MONDAY, 30) == ("bay1", at(MONDAY, 9))
    assert m.find_slot(gap, MONDAY, 45) is None


def test_book_marks_consecutive_slots_and_refuses_clashes():
    bookings = empty_bays("bay1", "bay2")
    assert m.book(bookings, "bay1", at(MONDAY, 9), 90) == [at(MONDAY, 9), at(MONDAY, 9, 30), at(MONDAY, 10)]
    assert bookings["bay1"] == {at(MONDAY, 9), at(MONDAY, 9, 30), at(MONDAY, 10)}
    assert m.book(bookings, "bay1", at(MONDAY, 10, 30), 45) == [at(MONDAY, 10, 30), at(MONDAY, 11)]
    with pytest.raises(ValueError):
        m.book(bookings, "bay1", at(MONDAY, 8, 30), 60)
    assert bookings["bay1"] == {at(MONDAY, 9), at(MONDAY, 9, 30), at(MONDAY, 10), at(MONDAY, 10, 30), at(MONDAY, 11)}
    m.book(bookings, "bay2", at(MONDAY, 9), 30)
    assert bookings["bay2"] == {at(MONDAY, 9)}


def test_reserve_parts_all_or_nothing():
    stock = {"pads-f": 4, "oil-5w30": 20, "filter-oil": 3}
    held = {"pads-f": 2}
    assert m.reserve_parts(stock, held, {"pads-f": 2, "oil-5w30": 5}) == {}
    assert held == {"pads-f": 4, "oil-5w30": 5}
    assert m.reserve_parts(stock, held, {"pads-f": 1, "filter-oil": 1}) == {"pads-f": 1}
    assert held == {"pads-f": 4, "oil-5w30": 5}
    assert m.reserve_parts(stock, held, {"oil-5w30": 18, "belt-kit": 1, "filter-oil": 3}) == {"oil-5w30": 3, "belt-kit": 1}
    assert m.reserve_parts(stock, held, {"filter-oil": 3}) == {}
    assert held["filter-oil"] == 3


def test_release_parts():
    held = {"pads-f": 4, "oil-5w30": 5, "filter-oil": 1}
    m.release_parts(held, {"pads-f": 2, "oil-5w30": 5})
    assert held == {"pads-f": 2, "filter-oil": 1}
    m.release_parts(held, {"filter-oil": 3, "belt-kit": 1})
    assert held == {"pads-f": 2}


def test_labour_charge_by_tier():
    assert m.labour_charge(0) == 0
    assert m.labour_charge(1) == 8400
    assert m.labour_charge(2) == 16800
    assert m.labour_charge(3) == 24000
    assert m.labour_charge(4) == 31200
    assert m.labour_charge(5.5) == 40200
    assert m.labour_charge(0.75) == 6300


def test_invoice_without_discounts():
    bill = m.invoice(1.5, [("oil-5w30", 5, 1200), ("filter-oil", 1, 1500)])
    assert bill == {"labour": 12600, "parts": 7500, "discount": 0, "net": 20100, "vat": 4020, "total": 24120}


def test_invoice_discounts():
    loyal = m.invoice(3, [("pads-f", 1, 6000), ("oil-5w30", 5, 1200), ("filter-oil", 1, 1500)], loyalty=True)
    assert loyal == {"labour": 24000, "parts": 13500, "discount": 2400, "net": 35100, "vat": 7020, "total": 42120}
    big = m.invoice(4, [("belt-kit", 1, 18000), ("pump", 1, 2000)])
    assert big == {"labour": 31200, "parts": 20000, "discount": 1000, "net": 50200, "vat": 10040, "total": 60240}
    both = m.invoice(1, [("belt-kit", 2, 18000)], loyalty=True)
    assert both["discount"] == 840 + 1800 and both["total"] == round((8400 + 36000 - 2640) * 1.2)
    just_under = m.invoice(1, [("belt-kit", 1, 19999)])
    assert just_under["discount"] == 0 and just_under["net"] == 28399
