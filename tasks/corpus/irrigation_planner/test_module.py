from datetime import date, timedelta

import pytest

import module as m

MORNING, EVENING = m.WINDOWS


def zone(name="north", crop="maize", planted=date(2024, 5, 1), stage_days=(20, 35, 40), area=1.0, flow=100.0,
         capacity=60.0, refill=40.0, moisture=44.0):
    return m.Zone(name, crop, planted, stage_days, area, flow, capacity, refill, moisture)


def farm():
    return [zone(),
            zone("south", "tomato", date(2024, 4, 1), (30, 40, 45), 0.5, 60.0, 50.0, 35.0, 38.0),
            zone("east", "wheat", date(2024, 3, 1), (20, 30, 40), 0.8, 80.0, 55.0, 30.0, 50.0)]


def test_growth_stage_boundaries():
    z = zone()
    start = date(2024, 5, 1)
    stages = [m.growth_stage(z, start + timedelta(days=n)) for n in (0, 19, 20, 54, 55, 94, 95, 300)]
    assert stages == ["initial", "initial", "development", "development", "mid", "mid", "late", "late"]
    with pytest.raises(ValueError):
        m.growth_stage(z, start - timedelta(days=1))


def test_crop_et_uses_the_stage_coefficient():
    z = zone()
    assert m.crop_et(z, date(2024, 5, 1), 5.0) == pytest.approx(1.5)
    assert m.crop_et(z, date(2024, 6, 1), 5.0) == pytest.approx(3.5)
    assert m.crop_et(z, date(2024, 7, 1), 5.0) == pytest.approx(6.0)
    assert m.crop_et(z, date(2024, 9, 1), 5.0) == pytest.approx(3.0)
    tomato = zone(crop="tomato")
    assert m.crop_et(tomato, date(2024, 5, 1), 4.0) == pytest.approx(2.4)


def test_effective_rain():
    assert m.effective_rain(0.0) == 0.0
    assert m.effective_rain(4.9) == 0.0
    assert m.effective_rain(5.0) == pytest.approx(4.0)
    assert m.effective_rain(25.0) == pytest.approx(20.0)


def test_advance_day_balance():
    z = zone(moisture=44.0)
    assert m.advance_day(z, date(2024, 5, 1), 5.0, 0.0) == 0.0
    assert z.moisture_mm == pytest.approx(42.5)
    assert m.advance_day(z, date(2024, 5, 2), 5.0, 10.0) == 0.0
    assert z.moisture_mm == pytest.approx(49.0)


def test_advance_day_drains_above_capacity_and_never_goes_negative():
    z = zone(moisture=55.0)
    assert m.advance_day(z, date(2024, 5, 1), 5.0, 20.0) == pytest.approx(9.5)
    assert z.moisture_mm == 60.0
    dry = zone(moisture=2.0)
    assert m.advance_day(dry, date(2024, 7, 1), 10.0, 0.0) == 0.0
    assert dry.moisture_mm == 0.0


def test_irrigation_depth_refill_point_and_forecast():
    assert m.irrigation_depth(zone(moisture=40.0)) == pytest.approx(20.0)
    assert m.irrigation_depth(zone(moisture=40.5)) == 0.0
    assert m.irrigation_depth(zone(moisture=10.0)) == pytest.approx(50.0)
    assert m.irrigation_depth(zone(moisture=40.0), forecast_rain_mm=10.0) == pytest.approx(12.0)
    assert m.irrigation_depth(zone(moisture=40.0), forecast_rain_mm=4.0) == pytest.approx(20.0)
    assert m.irrigation_depth(zone(moisture=40.0), forecast_rain_mm=40.0) == 0.0


def test_run_minutes():
    assert m.run_minutes(zone(area=2.0, flow=25.0), 10.0) == 480
    assert m.run_minutes(zone(area=1.0, flow=20.0), 1.0) == 30
    assert m.run_minutes(zone(area=1.0, flow=7.0), 1.0) == 86
    assert m.run_minutes(zone(area=0.5, flow=60.0), 18.9) == 95


def test_rotation_groups_first_fit_largest_first():
    zones = [zone("a", flow=20.0), zone("b", flow=30.0), zone("c", flow=15.0), zone("d", flow=25.0)]
    groups = m.rotation_groups(zones, 50.0)
    assert [[z.name for z in group] for group in groups] == [["b", "a"], ["d", "c"]]
    assert [[z.name for z in group] for group in m.rotation_groups(zones, 90.0)] == [["b", "d", "a", "c"]]
    assert [[z.name for z in group] for group in m.rotation_groups(zones, 30.0)] == [["b"], ["d"], ["a"], ["c"]]
    assert m.rotation_groups([zone("x", flow=50.0)], 50.0)[0][0].name == "x"
    assert m.rotation_groups([], 50.0) == []
    with pytest.raises(ValueError):
        m.rotation_groups([zone("big", flow=50.5)], 50.0)


def test_schedule_runs_fills_the_windows_in_order():
    a, b, c, d = zone("a"), zone("b"), zone("c"), zone("d")
    runs, deferred = m.schedule_runs({"a": 200, "b": 150, "c": 300, "d": 100}, [[a, b], [c, d]])
    assert runs == [(MORNING[0], MORNING[0] + 150, "b"), (MORNING[0], MORNING[0] + 200, "a"),
                    (EVENING[0], EVENING[0] + 100, "d"), (EVENING[0], EVENING[0] + 300, "c")]
    assert deferred == []
    runs, deferred = m.schedule_runs({"a": 60, "b": 0, "c": 30}, [[a], [b], [c]])
    assert runs == [(MORNING[0], MORNING[0] + 60, "a"), (MORNING[0] + 60, MORNING[0] + 90, "c")]
    assert deferred == []


def test_schedule_runs_defers_what_fits_no_window():
    a, b, c = zone("a"), zone("b"), zone("c")
    whole_morning = MORNING[1] - MORNING[0]
    runs, deferred = m.schedule_runs({"a": whole_morning, "b": whole_morning + 1, "c": EVENING[1] - EVENING[0]},
                                     [[a], [b], [c]])
    assert runs == [(MORNING[0], MORNING[1], "a"), (EVENING[0], EVENING[1], "c")]
    assert deferred == ["b"]
    runs, deferred = m.schedule_runs({"a": 10, "b": 20}, [[a, b]])
    assert runs == [(MORNING[0], MORNING[0] + 10, "a"), (MORNING[0], MORNING[0] + 20, "b")]


def test_no_run_in_the_midday_heat():
    runs, _ = m.schedule_runs({"a": 400, "b": 100, "c": 100}, [[zone("a")], [zone("b")], [zone("c")]])
    for start, end, _ in runs:
        assert end <= 11 * 60 or start >= 16 * 60


def test_plan_day_waters_the_thirsty_zones():
    zones = farm()
    plan = m.plan_day(zones, date(2024, 6, 10), {"et0": 6.0, "rain": 0.0}, pump_m3h=150.0)
    assert plan["runs"] == [(MORNING[0], MORNING[0] + 122, "north"), (MORNING[0] + 122, MORNING[0] + 217, "south")]
    assert plan["applied"] == {"north": pytest.approx(20.2), "south": pytest.approx(18.9)}
    assert plan["deferred"] == [] and plan["day"] == date(2024, 6, 10)
    assert plan["drained"] == {"north": 0.0, "south": 0.0, "east": 0.0}
    assert [z.moisture_mm for z in zones] == [pytest.approx(60.0), pytest.approx(50.0), pytest.approx(47.6)]
    assert m.pump_peak(plan["runs"], zones) == 100.0


def test_plan_day_runs_zones_together_when_the_pump_allows():
    zones = farm()
    plan = m.plan_day(zones, date(2024, 6, 10), {"et0": 6.0, "rain": 0.0, "forecast_rain": 10.0}, pump_m3h=170.0)
    assert plan["runs"] == [(MORNING[0], MORNING[0] + 55, "south"), (MORNING[0], MORNING[0] + 74, "north")]
    assert plan["applied"] == {"north": pytest.approx(12.2), "south": pytest.approx(10.9)}
    assert m.pump_peak(plan["runs"], zones) == 160.0


def test_plan_day_rain_carries_over_and_drains():
    zones = farm()
    plan = m.plan_day(zones, date(2024, 6, 10), {"et0": 6.0, "rain": 30.0}, pump_m3h=150.0)
    assert plan["runs"] == [] and plan["applied"] == {}
    assert plan["drained"]["north"] == pytest.approx(3.8)
    assert plan["drained"]["east"] == pytest.approx(16.6)
    assert plan["drained"]["south"] == pytest.approx(5.1)
    assert [z.moisture_mm for z in zones] == [60.0, 50.0, 55.0]


def test_plan_day_deferred_zone_is_not_refilled():
    big = zone("big", area=4.0, flow=60.0, moisture=30.0)
    plan = m.plan_day([big], date(2024, 5, 1), {"et0": 5.0}, pump_m3h=100.0)
    assert plan["runs"] == [] and plan["deferred"] == ["big"] and plan["applied"] == {}
    assert big.moisture_mm == pytest.approx(28.5)


def test_a_week_of_planning():
    zones = farm()
    start = date(2024, 6, 9)  # a Sunday; south enters its mid stage the next day
    plans = [m.plan_day(zones, start + timedelta(days=n), {"et0": 6.0, "rain": 0.0}, 150.0) for n in range(7)]
    assert [sorted(plan["applied"]) for plan in plans] == [["north", "south"], [], [], ["south"], [], ["north"], ["south"]]
    assert plans[3]["applied"]["south"] == pytest.approx(20.7) and plans[5]["applied"]["north"] == pytest.approx(21.0)
    assert [z.moisture_mm for z in zones] == [pytest.approx(55.8), pytest.approx(50.0), pytest.approx(33.2)]
    totals = m.weekly_totals(plans, zones)
    assert list(totals) == [(2024, 23), (2024, 24)]
    assert totals[(2024, 23)] == {"north": pytest.approx(202.0), "south": pytest.approx(85.5)}
    assert totals[(2024, 24)] == {"south": pytest.approx(207.0), "north": pytest.approx(210.0)}


def test_weekly_totals():
    zones = farm()
    plans = [{"day": date(2024, 5, 5), "applied": {"north": 20.0}},
             {"day": date(2024, 5, 6), "applied": {"north": 10.0, "south": 5.0}},
             {"day": date(2024, 5, 12), "applied": {"south": 4.0, "east": 2.5}},
             {"day": date(2024, 5, 13), "applied": {}}]
    assert m.weekly_totals(plans, zones) == {(2024, 18): {"north": 200.0},
                                             (2024, 19): {"north": 100.0, "south": 45.0, "east": 20.0},
                                             (2024, 20): {}}
    assert m.weekly_totals([], zones) == {}


def test_pump_peak():
    zones = [zone("a", flow=30.0), zone("b", flow=20.0), zone("c", flow=5.0)]
    assert m.pump_peak([(0, 10, "a"), (10, 20, "b")], zones) == 30.0
    assert m.pump_peak([(0, 10, "a"), (5, 15, "b")], zones) == 50.0
    assert m.pump_peak([(0, 30, "a"), (5, 10, "b"), (12, 20, "c"), (8, 14, "c")], zones) == 55.0
    assert m.pump_peak([], zones) == 0.0
