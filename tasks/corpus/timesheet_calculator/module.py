"""Timesheets for hourly staff: worked time, unpaid breaks, overtime and gross pay.

Rules (from the payroll handbook): clock times are rounded to the nearest quarter hour,
shifts of more than 6 h include an unpaid 30 min break (45 min above 9 h), and time above
8 h a day or above 40 regular hours a week is overtime, paid at 150 %.
"""

from typing import NamedTuple

DAILY_REGULAR_MINUTES = 8 * 60
WEEKLY_REGULAR_MINUTES = 40 * 60
OVERTIME_PERCENT = 150
BREAK_RULES = [(9 * 60, 45), (6 * 60, 30)]
QUARTER = 15


class Entry(NamedTuple):
    day: str
    start: str
    end: str


def parse_clock(text: str) -> int:
    """'07:30' -> minutes after midnight (450)."""
    hours, _, minutes = text.strip().partition(":")
    hour, minute = int(hours), int(minutes)
    if hour < 0 or hour >= 24 or minute < 0 or minute >= 60:
        raise ValueError(f"bad clock time {text!r}")
    return hour * 60 + minute


def round_to_quarter(minutes: int) -> int:
    """Nearest multiple of 15 minutes: 7 minutes round down, 8 minutes round up."""
    return (minutes + QUARTER // 2) // QUARTER * QUARTER


def shift_minutes(entry: Entry) -> int:
    """Length of a shift; an end before the start means the shift runs past midnight."""
    start, end = parse_clock(entry.start), parse_clock(entry.end)
    if end < start:
        end += 24 * 60
    return end - start


def break_minutes(worked: int) -> int:
    for threshold, minutes in BREAK_RULES:
        if worked > threshold:
            return minutes
    return 0


def paid_minutes(entry: Entry) -> int:
    worked = round_to_quarter(shift_minutes(entry))
    return worked - break_minutes(worked)


def daily_totals(entries: list[Entry]) -> dict[str, int]:
    """Paid minutes per day; several entries on one day add up."""
    totals: dict[str, int] = {}
    for entry in entries:
        totals[entry.day] = totals.get(entry.day, 0) + paid_minutes(entry)
    return totals


def split_overtime(daily: dict[str, int]) -> tuple[int, int]:
    """(regular, overtime) minutes of a week, applying the daily limit first, in date order."""
    regular = 0
    overtime = 0
    for day in sorted(daily):
        day_regular = min(daily[day], DAILY_REGULAR_MINUTES)
        overtime += daily[day] - day_regular
        room = WEEKLY_REGULAR_MINUTES - regular
        if day_regular > room:
            overtime += day_regular - room
            day_regular = room
        regular += day_regular
    return regular, overtime


def gross_pay_cents(regular: int, overtime: int, hourly_cents: int) -> int:
    """Pay for the minutes at the hourly rate, rounded half up to whole cents."""
    regular_pay = regular * hourly_cents
    overtime_pay = overtime * hourly_cents * OVERTIME_PERCENT // 100
    return (regular_pay + overtime_pay + 30) // 60


def format_hours(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def longest_shift(entries: list[Entry]) -> Entry | None:
    """The entry with the longest shift; the earliest entry wins a tie."""
    best = None
    for entry in entries:
        if best is None or shift_minutes(entry) > shift_minutes(best):
            best = entry
    return best


def missing_days(entries: list[Entry], workdays: list[str]) -> list[str]:
    """Workdays without any timesheet entry, in the given order."""
    booked = {entry.day for entry in entries}
    return [day for day in workdays if day not in booked]


def week_report(entries: list[Entry], lines: list | None = None) -> list:
    """Append one 'YYYY-MM-DD h:mm' line per day, then the weekly overtime line."""
    if lines is None:
        lines = []
    daily = daily_totals(entries)
    for day in sorted(daily):
        lines.append(f"{day} {format_hours(daily[day])}")
    lines.append(f"overtime {format_hours(split_overtime(daily)[1])}")
    return lines
