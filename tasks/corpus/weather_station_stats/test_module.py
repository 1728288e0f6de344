from datetime import date, datetime, timedelta

import pytest

import module as m

DAY = date(2023, 4, 12)
MIDNIGHT = datetime(2023, 4, 12)


def slots(day=DAY):
    start = datetime.combine(day, datetime.min.time())
    return [start + k * m.INTERVAL for k in range(m.READINGS_PER_DAY)]


def readings(times, temp=lambda k: 10.0, rain=lambda k: 0.0):
    return [m.Reading(t, temp(k), rain(k)) for k, t in enumerate(times)]


def stats(day, tmin, tmax, tmean=None, rain=0.0):
    return m.DayStats(day, tmin, tmax, (tmin + tmax) / 2 if tmean is None else tmean, rain)


def test_longest_gap():
    times = slots()
    assert m.longest_gap(times, DAY) == timedelta(0)
    assert m.longest_gap(times[1:], DAY) == timedelta(minutes=10)
    assert m.longest_gap(times[:-1], DAY) == timedelta(minutes=10)
    assert m.longest_gap(times[:72], DAY) == timedelta(hours=12)
    assert m.longest_gap(times[:18] + times[30:], DAY) == timedelta(hours=2)
    assert m.longest_gap(list(reversed(times[:18] + times[31:])), DAY) == timedelta(minutes=130)
    assert m.longest_gap([], DAY) == timedelta(days=1)


def test_day_stats_of_a_full_day():
    day = readings(slots(), temp=lambda k: 4.0 + k * 0.1)
    result = m.day_stats(DAY, day, 2.5)
    assert result == m.DayStats(DAY, 4.0, 18.3, 11.2, 2.5)


def test_day_stats_ignores_other_days_and_failed_readings():
    day = readings(slots(), temp=lambda k: None if k % 10 == 0 else 8.0)
    day += [m.Reading(MIDNIGHT + timedelta(days=1), -30.0, 0.0), m.Reading(MIDNIGHT - m.INTERVAL, 40.0, 0.0)]
    result = m.day_stats(DAY, day, 0.0)
    assert (result.tmin, result.tmax, result.tmean) == (8.0, 8.0, 8.0)


def test_day_stats_needs_three_quarters_of_the_readings():
    times = [t for k, t in enumerate(slots()) if k % 4 != 3]
    assert len(times) == 108
    assert m.day_stats(DAY, readings(times), 0.0) is not None
    assert m.day_stats(DAY, readings(times[1:]), 0.0) is None


def test_day_stats_refuses_a_gap_over_two_hours():
    times = slots()
    assert m.day_stats(DAY, readings(times[:60] + times[72:]), 0.0) is not None
    assert m.day_stats(DAY, readings(times[:60] + times[73:]), 0.0) is None
    assert m.day_stats(DAY, readings(times[:130]), 0.0) is None


def test_rain_from_a_running_total():
    times = slots()[:6]
    totals = [10.0, 10.0, 10.2, 10.6, 11.0, 11.0]
    assert m.rain_by_day([m.Reading(t, 5.0, mm) for t, mm in zip(times, totals)]) == {DAY: 1.0}
    assert m.rain_by_day([m.Reading(t, 5.0, mm) for t, mm in zip(reversed(times), reversed(totals))]) == {DAY: 1.0}
    assert m.rain_by_day([m.Reading(times[0], 5.0, 3.0)]) == {}


def test_rain_across_a_gauge_reset():
    times = slots()[:5]
    totals = [250.4, 251.0, 0.3, 0.5, 0.5]
    assert m.rain_by_day([m.Reading(t, 5.0, mm) for t, mm in zip(times, totals)]) == {DAY: 1.1}


def test_rain_glitches_are_ignored_but_long_gaps_may_hold_heavy_rain():
    times = slots()
    glitch = [m.Reading(times[0], 5.0, 1.0), m.Reading(times[1], 5.0, 41.5), m.Reading(times[2], 5.0, 41.7)]
    assert m.rain_by_day(glitch) == {DAY: 0.2}
    limit = [m.Reading(times[0], 5.0, 1.0), m.Reading(times[1], 5.0, 41.0)]
    assert m.rain_by_day(limit) == {DAY: 40.0}
    after_gap = [m.Reading(times[0], 5.0, 1.0), m.Reading(times[3], 5.0, 101.0), m.Reading(times[4], 5.0, 200.0)]
    assert m.rain_by_day(after_gap) == {DAY: 100.0}


def test_rain_is_booked_on_the_day_a_step_ends():
    late = [m.Reading(MIDNIGHT - m.INTERVAL * 2, 5.0, 1.0), m.Reading(MIDNIGHT - m.INTERVAL, 5.0, 1.5),
            m.Reading(MIDNIGHT, 5.0, 2.25), m.Reading(MIDNIGHT + m.INTERVAL, 5.0, 2.5)]
    assert m.rain_by_day(late) == {DAY - timedelta(days=1): 0.5, DAY: 1.0}


def test_daily_series():
    first, second = slots(DAY), slots(DAY + timedelta(days=1))
    data = readings(first, temp=lambda k: 10.0 + (k % 2), rain=lambda k: k * 0.1) + readings(second[:50])
    series = m.daily_series(data, DAY - timedelta(days=1), DAY + timedelta(days=2))
    assert list(series) == [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert series[DAY] == m.DayStats(DAY, 10.0, 11.0, 10.5, 14.3)
    assert series[DAY - timedelta(days=1)] is None and series[DAY + timedelta(days=1)] is None
    assert m.daily_series(data, DAY, DAY) == {DAY: series[DAY]}


def test_growing_degree_days_clip_to_base_and_cap():
    assert m.growing_degree_days(5.0, 15.0) == 2.5
    assert m.growing_degree_days(12.0, 35.0) == 11.0
    assert m.growing_degree_days(2.0, 8.0) == 0.0
    assert m.growing_degree_days(31.0, 35.0) == 20.0
    assert m.growing_degree_days(14.0, 14.0) == 4.0
    assert m.growing_degree_days(3.0, 28.0, base=5.0, cap=25.0) == 10.0
    with pytest.raises(ValueError):
        m.growing_degree_days(15.0, 14.9)


def test_accumulated_gdd_skips_missing_days():
    days = [stats(DAY, 8.0, 20.0), None, stats(DAY, 14.0, 33.0), stats(DAY, 0.0, 9.0)]
    assert m.accumulated_gdd(days) == 17.0
    assert m.accumulated_gdd(days, base=8.0, cap=25.0) == 18.0
    assert m.accumulated_gdd([None]) == 0.0
    assert m.accumulated_gdd([stats(DAY, 10.04, 10.1)] * 3) == 0.2


def test_wind_chill_within_its_range():
    assert m.wind_chill(-10.0, 20.0) == -17.9
    assert m.wind_chill(-20.0, 40.0) == -34.1
    assert m.wind_chill(10.0, 10.0) == 8.6
    assert m.wind_chill(0.0, 4.9) == -1.5
    assert m.wind_chill(10.1, 30.0) is None
    assert m.wind_chill(-5.0, 4.8) is None


def test_heat_index_within_its_range():
    assert m.heat_index(32.0, 70.0) == 40.4
    assert m.heat_index(35.0, 50.0) == 40.7
    assert m.heat_index(27.0, 40.0) == 26.9
    assert m.heat_index(26.9, 90.0) is None
    assert m.heat_index(35.0, 39.9) is None


def test_feels_like():
    assert m.feels_like(m.Reading(MIDNIGHT, -10.0, 0.0, wind_kmh=20.0)) == -17.9
    assert m.feels_like(m.Reading(MIDNIGHT, 32.0, 0.0, wind_kmh=20.0, humidity=70.0)) == 40.4
    assert m.feels_like(m.Reading(MIDNIGHT, 18.0, 0.0, wind_kmh=30.0, humidity=90.0)) == 18.0
    assert m.feels_like(m.Reading(MIDNIGHT, 5.0, 0.0, wind_kmh=2.0)) == 5.0
    assert m.feels_like(m.Reading(MIDNIGHT, None, 0.0, wind_kmh=20.0)) is None


def month(year, mon, missing=(), overrides=None):
    days = {}
    for number in range(1, 32):
        try:
            day = date(year, mon, number)
        except ValueError:
            break
        days[day] = None if number in missing else (overrides or {}).get(number, stats(day, 5.0, 15.0))
    return days


def test_month_is_complete_by_the_3_5_rule():
    assert m.month_is_complete(2024, 2, month(2024, 2))
    assert m.month_is_complete(2024, 2, month(2024, 2, missing=(1, 2, 3, 10, 29)))
    assert not m.month_is_complete(2024, 2, month(2024, 2, missing=(1, 2, 3, 10, 20, 29)))
    assert not m.month_is_complete(2024, 2, month(2024, 2, missing=(10, 11, 12, 13)))
    assert m.month_is_complete(2024, 2, month(2024, 2, missing=(10, 11, 12, 14, 15)))
    assert not m.month_is_complete(2023, 4, month(2023, 4, missing=(27, 28, 29, 30)))
    assert not m.month_is_complete(2023, 4, {})
    days = month(2023, 4)
    del days[date(2023, 4, 30)]
    assert m.month_is_complete(2023, 4, days)
    assert not m.month_is_complete(2023, 4, {**days, **{d: None for d in (date(2023, 4, k) for k in (1, 3, 5, 7, 9))}})


def test_monthly_summary():
    april = month(2023, 4, missing=(2, 3), overrides={
        5: stats(date(2023, 4, 5), -2.5, 9.0, tmean=3.0, rain=12.3),
        6: stats(date(2023, 4, 6), 0.0, 26.0, tmean=14.0, rain=1.0),
        7: stats(date(2023, 4, 7), 1.0, 25.0, tmean=12.0, rain=0.9),
        8: stats(date(2023, 4, 8), -2.5, 26.0, tmean=11.0, rain=0.0),
    })
    april[date(2023, 5, 1)] = stats(date(2023, 5, 1), -9.0, 31.0, rain=50.0)
    summary = m.monthly_summary(2023, 4, april)
    assert summary == {
        "mean_tmax": 15.9, "mean_tmin": 4.1, "mean_temp": 10.0,
        "highest": (26.0, date(2023, 4, 6)), "lowest": (-2.5, date(2023, 4, 5)),
        "rain_mm": 14.2, "wet_days": 2, "frost_days": 2, "summer_days": 3, "gdd": 83.5,
    }


def test_monthly_summary_of_an_incomplete_month():
    assert m.monthly_summary(2023, 4, month(2023, 4, missing=(1, 2, 3, 4))) is None
    assert m.monthly_summary(2023, 4, {}) is None
