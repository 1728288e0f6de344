from datetime import date

import pytest

import module as m


def weekly(days, interval=1, start=date(2024, 1, 1), until=None):
    rule = {"freq": "weekly", "start": start, "interval": interval, "days": days}
    if until is not None:
        rule["until"] = until
    return rule


def monthly(day, interval=1, start=date(2024, 1, 31), until=None):
    rule = {"freq": "monthly", "start": start, "interval": interval, "day": day}
    if until is not None:
        rule["until"] = until
    return rule


def test_days_in_month():
    assert m.days_in_month(2024, 2) == 29
    assert m.days_in_month(2023, 2) == 28
    assert m.days_in_month(1900, 2) == 28
    assert m.days_in_month(2000, 2) == 29
    assert m.days_in_month(2024, 4) == 30
    assert m.days_in_month(2024, 11) == 30
    assert m.days_in_month(2024, 1) == 31
    assert m.days_in_month(2024, 12) == 31
    assert m.days_in_month(2024, 7) == 31


def test_days_in_month_whole_year():
    expected = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    assert [m.days_in_month(2023, month) for month in range(1, 13)] == expected


def test_add_months_clamps_and_wraps():
    assert m.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert m.add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert m.add_months(date(2024, 11, 15), 2) == date(2025, 1, 15)
    assert m.add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)
    assert m.add_months(date(2024, 11, 30), 1) == date(2024, 12, 30)
    assert m.add_months(date(2024, 3, 10), 12) == date(2025, 3, 10)
    assert m.add_months(date(2024, 3, 10), 0) == date(2024, 3, 10)
    assert m.add_months(date(2024, 1, 15), -1) == date(2023, 12, 15)


def test_add_months_anchor_day():
    assert m.add_months(date(2024, 2, 29), 1, 31) == date(2024, 3, 31)
    assert m.add_months(date(2024, 2, 29), 2, 31) == date(2024, 4, 30)
    assert m.add_months(date(2024, 1, 20), 0, 5) == date(2024, 1, 5)


def test_weekday_numbers():
    assert m.weekday_numbers(["Fri", "monday", "fri"]) == [0, 4]
    assert m.weekday_numbers([]) == []
    assert m.weekday_numbers(["sun", "mon"]) == [0, 6]
    assert m.weekday_numbers(["tue"]) == [1]


def test_next_weekly_every_week():
    rule = weekly(["mon", "wed", "fri"])
    assert m.next_weekly(rule, date(2024, 1, 1)) == date(2024, 1, 3)
    assert m.next_weekly(rule, date(2024, 1, 5)) == date(2024, 1, 8)
    assert m.next_weekly(rule, date(2023, 12, 31)) == date(2024, 1, 1)
    assert m.next_weekly(rule, date(2023, 6, 1)) == date(2024, 1, 1)


def test_next_weekly_full_week_search():
    assert m.next_weekly(weekly(["mon"]), date(2024, 1, 1)) == date(2024, 1, 8)
    assert m.next_weekly(weekly(["sun"]), date(2024, 1, 7)) == date(2024, 1, 14)
    assert m.next_weekly(weekly([]), date(2024, 1, 1)) is None


def test_next_weekly_interval():
    assert m.next_weekly(weekly(["mon", "fri"], 2), date(2024, 1, 5)) == date(2024, 1, 15)
    assert m.next_weekly(weekly(["wed"], 2), date(2024, 1, 4)) == date(2024, 1, 17)
    assert m.next_weekly(weekly(["sun"], 2), date(2024, 1, 7)) == date(2024, 1, 21)
    assert m.next_weekly(weekly(["mon"], 3), date(2024, 1, 1)) == date(2024, 1, 22)


def test_next_weekly_midweek_start():
    rule = weekly(["mon", "wed"], 2, start=date(2024, 1, 3))
    assert m.next_weekly(rule, date(2024, 1, 1)) == date(2024, 1, 3)
    assert m.next_weekly(rule, date(2024, 1, 3)) == date(2024, 1, 15)


def test_next_monthly_clamping():
    rule = monthly(31)
    assert m.next_monthly(rule, date(2024, 1, 30)) == date(2024, 1, 31)
    assert m.next_monthly(rule, date(2024, 1, 31)) == date(2024, 2, 29)
    assert m.next_monthly(rule, date(2024, 2, 29)) == date(2024, 3, 31)
    assert m.next_monthly(rule, date(2024, 3, 31)) == date(2024, 4, 30)


def test_next_monthly_respects_start():
    assert m.next_monthly(monthly(5, start=date(2024, 1, 20)), date(2024, 1, 1)) == date(2024, 2, 5)
    assert m.next_monthly(monthly(5, start=date(2024, 1, 5)), date(2024, 1, 1)) == date(2024, 1, 5)
    assert m.next_monthly(monthly(5, start=date(2024, 1, 5)), date(2024, 1, 4)) == date(2024, 1, 5)


def test_next_monthly_interval():
    rule = monthly(15, 3, start=date(2024, 1, 15))
    assert m.next_monthly(rule, date(2024, 1, 15)) == date(2024, 4, 15)
    assert m.next_monthly(rule, date(2024, 4, 14)) == date(2024, 4, 15)
    assert m.next_monthly(rule, date(2024, 4, 15)) == date(2024, 7, 15)


def test_next_occurrence_dispatch_and_until():
    assert m.next_occurrence(weekly(["tue"]), date(2024, 1, 1)) == date(2024, 1, 2)
    assert m.next_occurrence(monthly(31), date(2024, 1, 31)) == date(2024, 2, 29)
    rule = weekly(["tue"], until=date(2024, 1, 9))
    assert m.next_occurrence(rule, date(2024, 1, 2)) == date(2024, 1, 9)
    assert m.next_occurrence(rule, date(2024, 1, 9)) is None
    assert m.next_occurrence(monthly(31, until=date(2024, 2, 28)), date(2024, 1, 31)) is None
    assert m.next_occurrence(weekly([]), date(2024, 1, 1)) is None
    with pytest.raises(ValueError, match="daily"):
        m.next_occurrence({"freq": "daily", "start": date(2024, 1, 1)}, date(2024, 1, 1))


def test_occurrences_inclusive_window():
    rule = weekly(["mon", "fri"])
    got = m.occurrences(rule, date(2024, 1, 5), date(2024, 1, 15))
    assert got == [date(2024, 1, 5), date(2024, 1, 8), date(2024, 1, 12), date(2024, 1, 15)]
    assert m.occurrences(rule, date(2024, 1, 6), date(2024, 1, 7)) == []
    assert m.occurrences(rule, date(2024, 1, 8), date(2024, 1, 8)) == [date(2024, 1, 8)]


def test_occurrences_skip_and_until():
    rule = weekly(["mon"], until=date(2024, 1, 22))
    got = m.occurrences(rule, date(2024, 1, 1), date(2024, 3, 1), [date(2024, 1, 8)])
    assert got == [date(2024, 1, 1), date(2024, 1, 15), date(2024, 1, 22)]
    assert len(m.occurrences(weekly(["mon"]), date(2024, 1, 1), date(2024, 1, 31))) == 5
    assert len(m.occurrences(weekly(["mon"]), date(2024, 1, 1), date(2024, 1, 31))) == 5


def test_occurrences_monthly():
    got = m.occurrences(monthly(31), date(2024, 1, 1), date(2024, 4, 30))
    assert got == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_nth_weekday():
    assert m.nth_weekday(2024, 1, 0, 1) == date(2024, 1, 1)
    assert m.nth_weekday(2024, 1, 0, 5) == date(2024, 1, 29)
    assert m.nth_weekday(2024, 1, 0, 6) is None
    assert m.nth_weekday(2024, 1, 0, 0) is None
    assert m.nth_weekday(2024, 1, 0, -1) == date(2024, 1, 29)
    assert m.nth_weekday(2024, 2, 0, 5) is None
    assert m.nth_weekday(2024, 2, 0, -1) == date(2024, 2, 26)
    assert m.nth_weekday(2024, 1, 1, 2) == date(2024, 1, 9)
    assert m.nth_weekday(2024, 1, 2, 5) == date(2024, 1, 31)
    assert m.nth_weekday(2024, 2, 3, -1) == date(2024, 2, 29)


def test_overlaps():
    assert m.overlaps(0, 30, 30, 30) is False
    assert m.overlaps(0, 31, 30, 30) is True
    assert m.overlaps(30, 30, 0, 30) is False
    assert m.overlaps(30, 30, 0, 31) is True
    assert m.overlaps(0, 100, 10, 5) is True
    assert m.overlaps(10, 5, 0, 100) is True
    assert m.overlaps(0, 10, 50, 10) is False
    assert m.overlaps(50, 10, 0, 10) is False
