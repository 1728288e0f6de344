"""Weekly staff rota checks: overlaps, rest periods, hour limits and hourly coverage."""

from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_REST = timedelta(hours=11)
MAX_SHIFT_HOURS = 12
MAX_WEEKLY_HOURS = 48


@dataclass(frozen=True)
class Shift:
    employee: str
    start: datetime
    end: datetime

    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def overlaps(a: Shift, b: Shift) -> bool:
    """True when two shifts share time; one ending exactly when the other starts is fine."""
    return a.start < b.end and b.start < a.end


def shift_problems(shift: Shift) -> list[str]:
    """Reasons a single shift is invalid (empty list when it is fine)."""
    problems = []
    if shift.end <= shift.start:
        problems.append("ends before it starts")
    elif shift.hours() > MAX_SHIFT_HOURS:
        problems.append(f"longer than {MAX_SHIFT_HOURS} hours")
    return problems


def rest_violations(shifts: list[Shift]) -> list[tuple[Shift, Shift]]:
    """Consecutive shifts of one employee separated by less than the minimum rest."""
    ordered = sorted(shifts, key=lambda s: (s.employee, s.start))
    result = []
    for i in range(1, len(ordered)):
        prev, cur = ordered[i - 1], ordered[i]
        if prev.employee == cur.employee and cur.start - prev.end < MIN_REST:
            result.append((prev, cur))
    return result


def weekly_hours(shifts: list[Shift]) -> dict[str, float]:
    """Total scheduled hours per employee."""
    totals: dict[str, float] = {}
    for shift in shifts:
        totals[shift.employee] = totals.get(shift.employee, 0.0) + shift.hours()
    return totals


def over_limit(shifts: list[Shift], limit: float = MAX_WEEKLY_HOURS) -> list[str]:
    """Employees scheduled for more than the weekly limit, sorted by name."""
    return sorted(name for name, hours in weekly_hours(shifts).items() if hours > limit)


def coverage(shifts: list[Shift], day: datetime, open_hour: int = 8, close_hour: int = 20) -> list:
    """Staff on duty for the whole of each opening hour of a day (index 0 is open_hour)."""
    counts = []
    for hour in range(open_hour, close_hour):
        slot_start = day.replace(hour=hour, minute=0, second=0)
        slot_end = slot_start + timedelta(hours=1)
        staffed = 0
        for shift in shifts:
            if shift.start <= slot_start and shift.end >= slot_end:
                staffed += 1
        counts.append(staffed)
    return counts


def understaffed_hours(counts: list[int], minimum: int, open_hour: int = 8) -> list[int]:
    """Clock hours whose coverage count is below the minimum."""
    return [open_hour + i for i in range(len(counts)) if counts[i] < minimum]


def first_available(shifts: list[Shift], employees: list[str], start: datetime, end: datetime):
    """First employee, in the given order, who can take the slot with full rest either side."""
    for name in employees:
        own = [s for s in shifts if s.employee == name]
        if all(start - s.end >= MIN_REST or s.start - end >= MIN_REST for s in own):
            return name
    return None


def split_at_midnight(shift: Shift) -> list[Shift]:
    """Split a shift that crosses midnight into one part per calendar day."""
    parts = []
    start = shift.start
    while start.date() < shift.end.date():
        midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time())
        parts.append(Shift(shift.employee, start, midnight))
        start = midnight
    parts.append(Shift(shift.employee, start, shift.end))
    return parts


def round_robin(slots: list[tuple], employees: list[str], rota: list | None = None) -> list:
    """Append one shift per (start, end) slot, cycling through employees in order."""
    if rota is None:
        rota = []
    for index in range(len(slots)):
        start, end = slots[index]
        rota.append(Shift(employees[index % len(employees)], start, end))
    return rota
