"""Statistics of an automatic weather station that reports every 10 minutes (station local time).

A day's minimum, maximum and mean temperature come from its readings when at least 75% of the
144 expected readings carry a temperature and no stretch of the day longer than two hours went
without one; otherwise the day is missing. The rain gauge reports a running total that the
logger sometimes resets (after a power cut, on maintenance): when the total drops, counting
starts again from zero, and a step of more than 40 mm per 10 minutes is a glitch and ignored.
Growing degree days clip the day's extremes to the base and the cap first. The wind chill is
defined at 10 °C or colder with wind above 4.8 km/h, the heat index from 27 °C and 40% relative
humidity up; anywhere else the air temperature is what it feels like. A month is summarised
when at most 5 of its days are missing and at most 3 of them in a row (the WMO 3/5 rule).
"""
import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

INTERVAL = timedelta(minutes=10)
READINGS_PER_DAY = 144
MIN_COVERAGE = 0.75
MAX_GAP = timedelta(hours=2)
MAX_RAIN_STEP_MM = 40.0
WET_DAY_MM = 1.0
FROST_BELOW_C = 0.0
SUMMER_DAY_C = 25.0
MAX_MISSING_DAYS = 5
MAX_MISSING_RUN = 3


@dataclass(frozen=True)
class Reading:
    time: datetime
    temp_c: float | None  # None when the thermometer did not answer
    rain_total_mm: float
    wind_kmh: float = 0.0
    humidity: float = 50.0


@dataclass(frozen=True)
class DayStats:
    day: date
    tmin: float
    tmax: float
    tmean: float
    rain_mm: float


def longest_gap(times: list[datetime], day: date) -> timedelta:
    """The longest stretch of ``day`` without a reading, its start and its end included."""
    midnight = datetime.combine(day, datetime.min.time())
    edges = [midnight - INTERVAL, *sorted(times), midnight + timedelta(days=1)]
    return max(later - earlier for earlier, later in zip(edges, edges[1:])) - INTERVAL


def day_stats(day: date, readings: list[Reading], rain_mm: float) -> DayStats | None:
    """The day's temperature statistics (None when the day is missing) with its rain."""
    timed = [(r.time, r.temp_c) for r in readings if r.time.date() == day and r.temp_c is not None]
    if len(timed) < MIN_COVERAGE * READINGS_PER_DAY:
        return None
    if longest_gap([time for time, _ in timed], day) > MAX_GAP:
        return None
    temps = [temp for _, temp in timed]
    return DayStats(day, min(temps), max(temps), round(sum(temps) / len(temps), 1), rain_mm)


def rain_by_day(readings: list[Reading]) -> dict[date, float]:
    """Rain per day from the gauge's running total; a step counts on the day it ends."""
    totals: dict[date, float] = defaultdict(float)
    ordered = sorted(readings, key=lambda r: r.time)
    for previous, current in zip(ordered, ordered[1:]):
        step = current.rain_total_mm - previous.rain_total_mm
        if step < 0:
            step = current.rain_total_mm  # the counter was reset: what it counted since
        intervals = (current.time - previous.time) / INTERVAL
        if step > MAX_RAIN_STEP_MM * intervals:
            continue
        totals[current.time.date()] += step
    return {day: round(mm, 1) for day, mm in totals.items()}


def daily_series(readings: list[Reading], first: date, last: date) -> dict[date, DayStats | None]:
    """Every day from ``first`` to ``last``, both included."""
    rain = rain_by_day(readings)
    by_day: dict[date, list[Reading]] = defaultdict(list)
    for reading in readings:
        by_day[reading.time.date()].append(reading)
    series = {}
    day = first
    while day <= last:
        series[day] = day_stats(day, by_day[day], rain.get(day, 0.0))
        day += timedelta(days=1)
    return series


def growing_degree_days(tmin: float, tmax: float, base: float = 10.0, cap: float = 30.0) -> float:
    """One day's degree days above ``base``, both extremes clipped to [base, cap] first."""
    if tmin > tmax:
        raise ValueError("the minimum is above the maximum")
    low = min(max(tmin, base), cap)
    high = min(max(tmax, base), cap)
    return (low + high) / 2 - base


def accumulated_gdd(days: list[DayStats | None], base: float = 10.0, cap: float = 30.0) -> float:
    """Degree days over a season; missing days add nothing."""
    total = 0.0
    for stats in days:
        if stats is None:
            continue
        total += growing_degree_days(stats.tmin, stats.tmax, base, cap)
    return round(total, 1)


def wind_chill(temp_c: float, wind_kmh: float) -> float | None:
    """Wind chill index (the 2001 North American formula); None outside its valid range."""
    if temp_c > 10.0 or wind_kmh <= 4.8:
        return None
    v = wind_kmh ** 0.16
    return round(13.12 + 0.6215 * temp_c - 11.37 * v + 0.3965 * temp_c * v, 1)


def heat_index(temp_c: float, humidity: float) -> float | None:
    """Heat index by the Rothfusz regression (computed in °F); None outside its valid range."""
    if temp_c < 27.0 or humidity < 40.0:
        return None
    t = temp_c * 9 / 5 + 32
    rh = humidity
    index_f = (-42.379 + 2.04901523 * t + 10.14333127 * rh - 0.22475541 * t * rh - 6.83783e-3 * t * t
               - 5.481717e-2 * rh * rh + 1.22874e-3 * t * t * rh + 8.5282e-4 * t * rh * rh - 1.99e-6 * t * t * rh * rh)
    return round((index_f - 32) * 5 / 9, 1)


def feels_like(reading: Reading) -> float | None:
    if reading.temp_c is None:
        return None
    chill = wind_chill(reading.temp_c, reading.wind_kmh)
    if chill is not None:
        return chill
    heat = heat_index(reading.temp_c, reading.humidity)
    return reading.temp_c if heat is None else heat


def month_is_complete(year: int, month: int, series: dict[date, DayStats | None]) -> bool:
    """The WMO 3/5 rule: at most MAX_MISSING_DAYS missing days, at most MAX_MISSING_RUN in a row."""
    missing = run = 0
    for number in range(1, calendar.monthrange(year, month)[1] + 1):
        if series.get(date(year, month, number)) is None:
            missing += 1
            run += 1
            if run > MAX_MISSING_RUN:
                return False
        else:
            run = 0
    return missing <= MAX_MISSING_DAYS


def monthly_summary(year: int, month: int, series: dict[date, DayStats | None]) -> dict | None:
    """Climate summary of a month, None when too many of its days are missing."""
    if not month_is_complete(year, month, series):
        return None
    days = sorted((s for s in series.values() if s is not None and (s.day.year, s.day.month) == (year, month)),
                  key=lambda s: s.day)
    wet = frost = summer = 0
    for stats in days:
        if stats.rain_mm >= WET_DAY_MM:
            wet += 1
        if stats.tmin < FROST_BELOW_C:
            frost += 1
        if stats.tmax >= SUMMER_DAY_C:
            summer += 1
    warmest = max(days, key=lambda s: s.tmax)  # the first of equally warm days
    coldest = min(days, key=lambda s: s.tmin)
    count = len(days)
    return {
        "mean_tmax": round(sum(s.tmax for s in days) / count, 1),
        "mean_tmin": round(sum(s.tmin for s in days) / count, 1),
        "mean_temp": round(sum(s.tmean for s in days) / count, 1),
        "highest": (warmest.tmax, warmest.day),
        "lowest": (coldest.tmin, coldest.day),
        "rain_mm": round(sum(s.rain_mm for s in days), 1),
        "wet_days": wet,
        "frost_days": frost,
        "summer_days": summer,
        "gdd": accumulated_gdd(days),
    }
