"""Service desk of an independent garage: when a car is next due for a service, how long its jobs
take, which bay and slot of the working day they fit in, which parts are held for them, and the
invoice at the garage's tiered labour rates."""
from __future__ import annotations

import calendar
import math
from datetime import date, datetime, time, timedelta

# Service due at whichever comes first: (miles, months) since the last one of that kind.
SCHEDULE = {"interim": (6_000, 6), "full": (12_000, 12), "major": (24_000, 24)}
JOB_HOURS = {"interim": 1.5, "full": 2.5, "major": 4.0, "brakes": 1.5, "timing_belt": 3.5, "mot": 0.75}
SHARED_WORK_HOURS = 0.5  # wheels off once when brakes come with a service
OLD_CAR_YEARS = 10
OLD_CAR_FACTOR = 1.2
SLOT_MINUTES = 30
OPENING = {0: (time(8, 0), time(17, 30)), 1: (time(8, 0), time(17, 30)), 2: (time(8, 0), time(17, 30)),
           3: (time(8, 0), time(17, 30)), 4: (time(8, 0), time(16, 30)), 5: (time(8, 30), time(12, 30))}
LUNCH = (time(12, 30), time(13, 0))
# Labour in pence per hour: the first two hours, the next two, then every hour beyond.
LABOUR_TIERS = ((2.0, 8_400), (2.0, 7_200), (math.inf, 6_000))
LOYALTY_LABOUR_DISCOUNT = 0.10
PARTS_DISCOUNT_THRESHOLD = 20_000
PARTS_DISCOUNT = 0.05
VAT_RATE = 0.20


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, moved back to the month's last day where it has none."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def service_due(kind: str, last_on: date, last_miles: int, odometer: int, today: date, miles_per_day: float) -> tuple[date, str]:
    """When a service is due and why ("mileage" or "time"); overdue by mileage means today."""
    interval_miles, interval_months = SCHEDULE[kind]
    by_time = add_months(last_on, interval_months)
    remaining = last_miles + interval_miles - odometer
    if remaining <= 0:
        return today, "mileage"
    if miles_per_day > 0:
        by_miles = today + timedelta(days=math.floor(remaining / miles_per_day))
        if by_miles < by_time:
            return by_miles, "mileage"
    return by_time, "time"


def estimate_minutes(jobs: list[str], car_age_years: int) -> int:
    """Workshop time for a booking, rounded up to whole slots."""
    if not jobs:
        raise ValueError("a booking needs at least one job")
    hours = 0.0
    for job in jobs:
        hours += JOB_HOURS[job]
    if "brakes" in jobs and any(job in SCHEDULE for job in jobs):
        hours -= SHARED_WORK_HOURS
    if car_age_years >= OLD_CAR_YEARS:
        hours *= OLD_CAR_FACTOR
    return math.ceil(hours * 60 / SLOT_MINUTES) * SLOT_MINUTES


def day_slots(day: date) -> list[datetime]:
    """Start of every bookable slot of a working day (none on Sundays, none over lunch)."""
    if day.weekday() not in OPENING:
        return []
    opens, closes = OPENING[day.weekday()]
    slots = []
    current = datetime.combine(day, opens)
    while current + timedelta(minutes=SLOT_MINUTES) <= datetime.combine(day, closes):
        if not LUNCH[0] <= current.time() < LUNCH[1]:
            slots.append(current)
        current += timedelta(minutes=SLOT_MINUTES)
    return slots


def find_slot(bookings: dict[str, set[datetime]], day: date, minutes: int) -> tuple[str, datetime] | None:
    """Earliest start (then the first bay, in order) with enough consecutive free slots."""
    needed = math.ceil(minutes / SLOT_MINUTES)
    slots = day_slots(day)
    for start in range(len(slots) - needed + 1):
        run = slots[start:start + needed]
        if run[-1] - run[0] != timedelta(minutes=SLOT_MINUTES * (needed - 1)):
            continue  # the run crosses lunch
        for bay, taken in bookings.items():
            if not taken.intersection(run):
                return bay, run[0]
    return None


def book(bookings: dict[str, set[datetime]], bay: str, start: datetime, minutes: int) -> list[datetime]:
    wanted = [start + timedelta(minutes=SLOT_MINUTES * k) for k in range(math.ceil(minutes / SLOT_MINUTES))]
    if bookings[bay].intersection(wanted):
        raise ValueError(f"bay {bay} is not free at {start:%H:%M}")
    bookings[bay].update(wanted)
    return wanted


def reserve_parts(stock: dict[str, int], held: dict[str, int], needed: dict[str, int]) -> dict[str, int]:
    """Hold parts for a job, all or nothing; returns what is short (empty when all were held)."""
    short = {}
    for sku, quantity in needed.items():
        free = stock.get(sku, 0) - held.get(sku, 0)
        if free < quantity:
            short[sku] = quantity - free
    if short:
        return short
    for sku, quantity in needed.items():
        held[sku] = held.get(sku, 0) + quantity
    return {}


def release_parts(held: dict[str, int], parts: dict[str, int]) -> None:
    for sku, quantity in parts.items():
        remaining = held.get(sku, 0) - quantity
        if remaining > 0:
            held[sku] = remaining
        else:
            held.pop(sku, None)


def labour_charge(hours: float) -> int:
    """Pence for ``hours`` of labour at the tiered rates."""
    charge = 0.0
    left = hours
    for tier_hours, rate in LABOUR_TIERS:
        used = min(left, tier_hours)
        charge += used * rate
        left -= used
        if left <= 0:
            break
    return round(charge)


def invoice(hours: float, parts: list[tuple[str, int, int]], loyalty: bool = False) -> dict[str, int]:
    """Labour and parts (sku, quantity, unit pence) less discounts, VAT on the net, all in pence."""
    labour = labour_charge(hours)
    parts_total = sum(quantity * unit for _, quantity, unit in parts)
    discount = 0
    if loyalty:
        discount += round(labour * LOYALTY_LABOUR_DISCOUNT)
    if parts_total >= PARTS_DISCOUNT_THRESHOLD:
        discount += round(parts_total * PARTS_DISCOUNT)
    net = labour + parts_total - discount
    vat = round(net * VAT_RATE)
    return {"labour": labour, "parts": parts_total, "discount": discount, "net": net, "vat": vat, "total": net + vat}
