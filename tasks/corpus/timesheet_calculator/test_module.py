import pytest

import module as m

E = m.Entry


def test_parse_clock():
    assert m.parse_clock("00:00") == 0
    assert m.parse_clock("07:30") == 450
    assert m.parse_clock(" 9:05 ") == 545
    assert m.parse_clock("23:59") == 1439
    assert m.parse_clock("12:00") == 720


@pytest.mark.parametrize("text", ["24:00", "12:60", "-1:30", "10:-5", "ab:cd", "12"])
def test_parse_clock_rejects(text):
    with pytest.raises(ValueError):
        m.parse_clock(text)


def test_round_to_quarter():
    assert [m.round_to_quarter(x) for x in (0, 7, 8, 15, 22, 23, 30)] == [0, 0, 15, 15, 15, 30, 30]
    assert m.round_to_quarter(487) == 480
    assert m.round_to_quarter(488) == 495


def test_shift_minutes():
    assert m.shift_minutes(E("d", "09:00", "17:00")) == 480
    assert m.shift_minutes(E("d", "22:00", "06:00")) == 480
    assert m.shift_minutes(E("d", "23:30", "00:15")) == 45
    assert m.shift_minutes(E("d", "09:00", "09:00")) == 0
    assert m.shift_minutes(E("d", "09:00", "09:01")) == 1


def test_break_minutes_thresholds_are_exclusive():
    assert m.break_minutes(0) == 0
    assert m.break_minutes(360) == 0
    assert m.break_minutes(361) == 30
    assert m.break_minutes(540) == 30
    assert m.break_minutes(541) == 45
    assert m.break_minutes(720) == 45


def test_paid_minutes():
    assert m.paid_minutes(E("d", "09:00", "17:00")) == 450
    assert m.paid_minutes(E("d", "09:00", "15:00")) == 360
    assert m.paid_minutes(E("d", "09:00", "15:07")) == 360
    assert m.paid_minutes(E("d", "09:00", "15:08")) == 345
    assert m.paid_minutes(E("d", "08:00", "17:30")) == 525
    assert m.paid_minutes(E("d", "22:00", "02:00")) == 240


def test_daily_totals():
    entries = [
        E("2024-03-04", "08:00", "12:00"),
        E("2024-03-05", "09:00", "17:00"),
        E("2024-03-04", "13:00", "16:00"),
    ]
    assert m.daily_totals(entries) == {"2024-03-04": 420, "2024-03-05": 450}
    assert m.daily_totals([]) == {}


def test_split_overtime_daily_limit():
    assert m.split_overtime({"2024-03-04": 600}) == (480, 120)
    assert m.split_overtime({"2024-03-04": 480}) == (480, 0)
    assert m.split_overtime({"2024-03-04": 300}) == (300, 0)
    assert m.split_overtime({}) == (0, 0)


def test_split_overtime_weekly_limit():
    days = {f"2024-03-0{d}": 480 for d in range(4, 9)}
    assert m.split_overtime(days) == (2400, 0)
    days["2024-03-09"] = 240
    assert m.split_overtime(days) == (2400, 240)


def test_split_overtime_daily_then_weekly():
    days = {f"2024-03-0{d}": 540 for d in range(4, 8)}
    days["2024-03-08"] = 500
    assert m.split_overtime(days) == (2400, 260)
    days["2024-03-09"] = 60
    assert m.split_overtime(days) == (2400, 320)


def test_split_overtime_partial_room_and_date_order():
    days = {"2024-03-09": 300, "2024-03-04": 480, "2024-03-05": 480, "2024-03-06": 480,
            "2024-03-07": 480, "2024-03-08": 100}
    # regular before the 9th: 4*480 + 100 = 2020 -> room 380 on the 9th, all 300 regular
    assert m.split_overtime(days) == (2320, 0)
    days["2024-03-08"] = 200
    # room on the 9th is 280 -> 20 minutes overtime
    assert m.split_overtime(days) == (2400, 20)


def test_gross_pay_cents():
    assert m.gross_pay_cents(480, 0, 1800) == 14400
    assert m.gross_pay_cents(0, 60, 1800) == 2700
    assert m.gross_pay_cents(480, 30, 1800) == 15750
    assert m.gross_pay_cents(0, 0, 1800) == 0


def test_gross_pay_rounds_half_up_to_int_cents():
    assert m.gross_pay_cents(1, 0, 1000) == 17
    assert m.gross_pay_cents(1, 0, 990) == 17
    assert m.gross_pay_cents(1, 0, 989) == 16
    result = m.gross_pay_cents(0, 1, 1001)
    assert result == 25 and isinstance(result, int)
    assert isinstance(m.gross_pay_cents(7, 3, 1234), int)


def test_format_hours():
    assert m.format_hours(0) == "0:00"
    assert m.format_hours(65) == "1:05"
    assert m.format_hours(510) == "8:30"
    assert m.format_hours(2400) == "40:00"


def test_longest_shift():
    a = E("d1", "09:00", "17:00")
    b = E("d2", "22:00", "07:00")
    c = E("d3", "08:00", "17:00")
    assert m.longest_shift([a, b]) is b
    assert m.longest_shift([c, b]) is c
    assert m.longest_shift([b, c]) is b
    assert m.longest_shift([a]) is a
    assert m.longest_shift([]) is None


def test_missing_days():
    entries = [E("2024-03-05", "09:00", "17:00"), E("2024-03-07", "09:00", "17:00")]
    week = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
    assert m.missing_days(entries, week) == ["2024-03-04", "2024-03-06", "2024-03-08"]
    assert m.missing_days([], ["2024-03-04"]) == ["2024-03-04"]
    assert m.missing_days(entries, []) == []


def test_week_report():
    entries = [E("2024-03-05", "09:00", "17:00"), E("2024-03-04", "09:00", "19:00")]
    assert m.week_report(entries) == ["2024-03-04 9:15", "2024-03-05 7:30", "overtime 1:15"]


def test_week_report_appends_and_default_not_shared():
    entries = [E("2024-03-04", "09:00", "12:00")]
    existing = ["Week 10"]
    assert m.week_report(entries, existing) is existing
    assert existing == ["Week 10", "2024-03-04 3:00", "overtime 0:00"]
    first = m.week_report(entries)
    second = m.week_report(entries)
    assert first == second == ["2024-03-04 3:00", "overtime 0:00"]
