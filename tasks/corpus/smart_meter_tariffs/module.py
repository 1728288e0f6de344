"""Monthly electricity bills from smart meter data, for a supplier's billing run.

Rules (from the tariff sheet):
* Half-hourly import is priced by time-of-use band: off-peak 00:30-07:30 every day, peak
  16:00-19:00 on weekdays, standard at all other times. Rates are in hundredths of a penny
  per kWh, half-hourly data in Wh.
* Any import the register shows beyond the half-hourly data (intervals the meter did not
  send) is billed at the standard rate.
* Registers have five digits and roll over from 99999 to 00000. A day without an actual
  reading gets an estimate on the straight line between the actual readings either side.
* The standing charge is per day, at the rate in force on that day. Energy and standing
  charges are each rounded half up to the penny; the export credit is rounded down.
* VAT is 5 % for domestic supplies and for business ones of at most 33 kWh a day on average
  (whole kWh), 20 % otherwise, rounded half up to the penny. The solar export credit carries
  no VAT: it is netted off the bill after VAT, and any surplus is carried forward.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

REGISTER_MODULUS = 100_000
MAX_MONTHLY_ADVANCE = 20_000
BANDS = ("off_peak", "standard", "peak")
OFF_PEAK = (0 * 60 + 30, 7 * 60 + 30)
PEAK = (16 * 60, 19 * 60)
REDUCED_VAT_PERCENT = 5
STANDARD_VAT_PERCENT = 20
DE_MINIMIS_KWH_PER_DAY = 33


@dataclass(frozen=True)
class Reading:
    day: date
    value: int
    actual: bool = True


@dataclass(frozen=True)
class Tariff:
    rates: dict[str, int]  # hundredths of a penny per kWh, by band
    standing: list[tuple[date, int]]  # (in force from, hundredths of a penny per day), oldest first
    export_rate: int  # hundredths of a penny per kWh exported


def band_for(moment: datetime) -> str:
    minute = moment.hour * 60 + moment.minute
    if OFF_PEAK[0] <= minute < OFF_PEAK[1]:
        return "off_peak"
    if moment.weekday() < 5 and PEAK[0] <= minute < PEAK[1]:
        return "peak"
    return "standard"


def usage_by_band(intervals: list[tuple[datetime, int]]) -> dict[str, int]:
    """Wh per band from (interval start, Wh) pairs."""
    usage = {band: 0 for band in BANDS}
    for start, wh in intervals:
        if wh < 0:
            raise ValueError(f"negative import at {start:%Y-%m-%d %H:%M}")
        usage[band_for(start)] += wh
    return usage


def register_advance(previous: int, current: int) -> int:
    """kWh between two register readings, across a rollover of the five-digit register."""
    if not (0 <= previous < REGISTER_MODULUS and 0 <= current < REGISTER_MODULUS):
        raise ValueError("register readings have five digits")
    advance = current - previous
    if advance < 0:
        advance += REGISTER_MODULUS
    if advance > MAX_MONTHLY_ADVANCE:
        raise ValueError(f"implausible advance of {advance} kWh: misread or exchanged meter?")
    return advance


def estimate_reading(before: Reading, after: Reading, on: date) -> int:
    """The register on ``on``, on the straight line between two actual readings (rounded down)."""
    span = (after.day - before.day).days
    if span <= 0 or not before.day <= on <= after.day:
        raise ValueError("the day must lie between two readings")
    advance = register_advance(before.value, after.value) * (on - before.day).days // span
    return (before.value + advance) % REGISTER_MODULUS


def reading_on(readings: list[Reading], on: date) -> Reading:
    """The actual reading of that day, or an estimate between the nearest actuals either side."""
    before = after = None
    for reading in sorted(readings, key=lambda r: r.day):
        if not reading.actual:
            continue
        if reading.day == on:
            return reading
        if reading.day < on:
            before = reading
        else:
            after = reading
            break
    if before is None or after is None:
        raise LookupError(f"no actual readings either side of {on}")
    return Reading(on, estimate_reading(before, after, on), actual=False)


def reconcile(by_band: dict[str, int], register_kwh: int) -> dict[str, int]:
    """Add to the standard band the import the register shows beyond the half-hourly data."""
    missing = register_kwh * 1000 - sum(by_band.values())
    if missing < 0:
        raise ValueError("half-hourly data exceeds the register advance")
    return {**by_band, "standard": by_band.get("standard", 0) + missing}


def rate_on(schedule: list[tuple[date, int]], day: date) -> int:
    rate = None
    for in_force_from, per_day in schedule:
        if in_force_from > day:
            break
        rate = per_day
    if rate is None:
        raise LookupError(f"no standing charge in force on {day}")
    return rate


def standing_charge(schedule: list[tuple[date, int]], start: date, end: date) -> int:
    """Hundredths of a penny for the days from ``start`` up to, not including, ``end``."""
    total = 0
    day = start
    while day < end:
        total += rate_on(schedule, day)
        day += timedelta(days=1)
    return total


def vat_percent(kwh: int, days: int, domestic: bool) -> int:
    if domestic or kwh <= DE_MINIMIS_KWH_PER_DAY * days:
        return REDUCED_VAT_PERCENT
    return STANDARD_VAT_PERCENT


def monthly_bill(tariff: Tariff, by_band: dict[str, int], exported_wh: int, start: date, end: date,
                 domestic: bool = True, credit_brought_forward: int = 0) -> dict[str, int]:
    """The bill in pence for the days from ``start`` up to ``end``; ``by_band`` is the reconciled
    import in Wh, ``credit_brought_forward`` the surplus of the previous bill."""
    energy = (sum(wh * tariff.rates[band] for band, wh in by_band.items()) + 50_000) // 100_000
    standing = (standing_charge(tariff.standing, start, end) + 50) // 100
    rate = vat_percent(sum(by_band.values()) // 1000, (end - start).days, domestic)
    vat = ((energy + standing) * rate + 50) // 100
    credit = exported_wh * tariff.export_rate // 100_000 + credit_brought_forward
    balance = energy + standing + vat - credit
    return {"energy": energy, "standing": standing, "vat": vat, "export_credit": credit,
            "due": max(balance, 0), "carried_forward": max(-balance, 0)}
