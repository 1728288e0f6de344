"""Recurring calendar events: weekly and monthly rules, next occurrence and window expansion.

A rule is a dict: {"freq": "weekly" | "monthly", "start": date, "interval": int,
"days": ["mon", ...] (weekly) or "day": int (monthly), optional "until": date}.
"""

from __future__ import annotations

from datetime import date, timedelta

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_EXPANSION = 366


def days_in_month(year: int, month: int) -> int:
    """Number of days in a month, leap years included."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """The anchor day (default: same day) `months` later, clamped to shorter month ends."""
    if anchor_day is None:
        anchor_day = day.day
    index = day.month - 1 + months
    year = day.year + index // 12
    month = index % 12 + 1
    return date(year, month, min(anchor_day, days_in_month(year, month)))


def weekday_numbers(names: list[str]) -> list[int]:
    """["Fri", "monday", "fri"] -> [0, 4]: sorted, without duplicates."""
    result = []
    for name in names:
        number = WEEKDAYS.index(name.lower()[:3])
        if number not in result:
            result.append(number)
    return sorted(result)


def next_weekly(rule: dict, after: date) -> date | None:
    """First occurrence strictly after `after`; only every `interval`-th week is active."""
    days = weekday_numbers(rule["days"])
    first_monday = rule["start"] - timedelta(days=rule["start"].weekday())
    candidate = max(after + timedelta(days=1), rule["start"])
    for offset in range(7 * rule["interval"]):
        day = candidate + timedelta(days=offset)
        weeks = (day - first_monday).days // 7
        if weeks % rule["interval"] == 0 and day.weekday() in days:
            return day
    return None


def next_monthly(rule: dict, after: date) -> date | None:
    """First monthly occurrence strictly after `after` and not before the rule's start."""
    for k in range(MAX_EXPANSION):
        candidate = add_months(rule["start"], k * rule["interval"], rule["day"])
        if candidate > after and candidate >= rule["start"]:
            return candidate
    return None


def next_occurrence(rule: dict, after: date) -> date | None:
    """Next occurrence after `after`, or None once the rule's `until` date has passed."""
    if rule["freq"] == "weekly":
        found = next_weekly(rule, after)
    elif rule["freq"] == "monthly":
        found = next_monthly(rule, after)
    else:
        raise ValueError(f"unknown frequency: {rule['freq']}")
    if found is None or rule.get("until") is not None and found > rule["until"]:
        return None
    return found


def occurrences(rule: dict, first: date, last: date, skip: list[date] | None = None) -> list[date]:
    """All occurrences from `first` to `last` inclusive, minus cancelled dates in `skip`."""
    if skip is None:
        skip = []
    result = []
    current = next_occurrence(rule, first - timedelta(days=1))
    while current is not None and current <= last:
        if current not in skip:
            result.append(current)
        current = next_occurrence(rule, current)
    return result


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """The n-th given weekday (0 = Monday) of a month; n = -1 is the last one."""
    matches = []
    for day in range(1, days_in_month(year, month) + 1):
        if date(year, month, day).weekday() == weekday:
            matches.append(date(year, month, day))
    if n == -1:
        return matches[-1]
    if n < 1 or n > len(matches):
        return None
    return matches[n - 1]


def overlaps(start_a: int, minutes_a: int, start_b: int, minutes_b: int) -> bool:
    """Whether two events given as (start minute, duration) overlap; touching is fine."""
    return start_a < start_b + minutes_b and start_b < start_a + minutes_a
