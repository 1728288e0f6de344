"""Daily irrigation planner for the zones of a farm that share one pump.

Water need follows FAO-56: reference evapotranspiration ET0 (mm/day) times the crop coefficient
of the zone's growth stage. Each zone keeps a soil-water balance in mm over its root zone: rain
that reaches the roots is added (showers under 5 mm evaporate first, of heavier rain 80% counts),
crop ET is taken out and water above field capacity drains away. A zone at or below its refill
point is watered back to field capacity, less the rain forecast for tomorrow. Runs are placed in
the cool windows only, never in the midday heat, and the zones running together never draw more
than the pump delivers. 1 mm over 1 ha is 10 m3.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

STAGES = ("initial", "development", "mid", "late")
CROP_COEFFICIENTS = {
    "maize": (0.3, 0.7, 1.2, 0.6),
    "tomato": (0.6, 0.85, 1.15, 0.8),
    "wheat": (0.4, 0.75, 1.15, 0.4),
}
# Minutes after midnight: the morning window ends before the midday heat, the evening one starts after it.
WINDOWS = ((4 * 60, 11 * 60), (17 * 60, 22 * 60))
MIN_EFFECTIVE_RAIN_MM = 5.0
EFFECTIVE_RAIN_SHARE = 0.8
M3_PER_MM_HA = 10


@dataclass
class Zone:
    name: str
    crop: str
    planted: date
    stage_days: tuple[int, int, int]  # lengths of the initial, development and mid stages
    area_ha: float
    flow_m3h: float
    field_capacity_mm: float
    refill_mm: float
    moisture_mm: float


def growth_stage(zone: Zone, day: date) -> str:
    elapsed = (day - zone.planted).days
    if elapsed < 0:
        raise ValueError(f"{zone.name} is not planted on {day}")
    for stage, length in zip(STAGES, zone.stage_days):
        if elapsed < length:
            return stage
        elapsed -= length
    return STAGES[-1]


def crop_et(zone: Zone, day: date, et0: float) -> float:
    return et0 * CROP_COEFFICIENTS[zone.crop][STAGES.index(growth_stage(zone, day))]


def effective_rain(rain_mm: float) -> float:
    if rain_mm < MIN_EFFECTIVE_RAIN_MM:
        return 0.0
    return rain_mm * EFFECTIVE_RAIN_SHARE


def advance_day(zone: Zone, day: date, et0: float, rain_mm: float) -> float:
    """Book one day of rain and crop ET; return what drained past field capacity (mm)."""
    moisture = zone.moisture_mm + effective_rain(rain_mm) - crop_et(zone, day, et0)
    drained = max(0.0, moisture - zone.field_capacity_mm)
    zone.moisture_mm = min(max(moisture, 0.0), zone.field_capacity_mm)
    return drained


def irrigation_depth(zone: Zone, forecast_rain_mm: float = 0.0) -> float:
    """Depth (mm) that refills the zone to field capacity, less the rain expected tomorrow."""
    if zone.moisture_mm > zone.refill_mm:
        return 0.0
    return max(0.0, zone.field_capacity_mm - zone.moisture_mm - effective_rain(forecast_rain_mm))


def run_minutes(zone: Zone, depth_mm: float) -> int:
    volume = depth_mm * zone.area_ha * M3_PER_MM_HA
    return math.ceil(volume / zone.flow_m3h * 60)


def rotation_groups(zones: list[Zone], pump_m3h: float) -> list[list[Zone]]:
    """Zones that run together: first fit, largest flow first, no group above the pump's flow."""
    groups: list[list[Zone]] = []
    loads: list[float] = []
    for zone in sorted(zones, key=lambda z: z.flow_m3h, reverse=True):
        if zone.flow_m3h > pump_m3h:
            raise ValueError(f"{zone.name} needs more flow than the pump delivers")
        for i, load in enumerate(loads):
            if load + zone.flow_m3h <= pump_m3h:
                groups[i].append(zone)
                loads[i] += zone.flow_m3h
                break
        else:
            groups.append([zone])
            loads.append(zone.flow_m3h)
    return groups


def schedule_runs(minutes: dict[str, int], groups: list[list[Zone]]) -> tuple[list[tuple[int, int, str]], list[str]]:
    """(start, end, zone) of every run, one group after another in the first window it fits;
    the zones of a group that fits in no window are deferred to the next day."""
    clocks = [start for start, _ in WINDOWS]
    runs, deferred = [], []
    for group in groups:
        names = [zone.name for zone in group if minutes.get(zone.name, 0) > 0]
        if not names:
            continue
        length = max(minutes[name] for name in names)
        for i, (_, end) in enumerate(WINDOWS):
            if clocks[i] + length <= end:
                runs.extend((clocks[i], clocks[i] + minutes[name], name) for name in names)
                clocks[i] += length
                break
        else:
            deferred.extend(names)
    return sorted(runs), deferred


def plan_day(zones: list[Zone], day: date, weather: dict, pump_m3h: float) -> dict:
    """Advance every zone by one day of ``weather`` ({"et0", "rain", "forecast_rain"}, mm) and
    plan today's watering; the zones watered are refilled."""
    drained = {zone.name: advance_day(zone, day, weather["et0"], weather.get("rain", 0.0)) for zone in zones}
    depths = {zone.name: irrigation_depth(zone, weather.get("forecast_rain", 0.0)) for zone in zones}
    thirsty = [zone for zone in zones if depths[zone.name] > 0]
    minutes = {zone.name: run_minutes(zone, depths[zone.name]) for zone in thirsty}
    runs, deferred = schedule_runs(minutes, rotation_groups(thirsty, pump_m3h))
    applied = {}
    for zone in thirsty:
        if zone.name not in deferred:
            zone.moisture_mm += depths[zone.name]
            applied[zone.name] = depths[zone.name]
    return {"day": day, "runs": runs, "deferred": deferred, "applied": applied, "drained": drained}


def weekly_totals(plans: list[dict], zones: list[Zone]) -> dict[tuple[int, int], dict[str, float]]:
    """Water applied (m3) per ISO (year, week) and zone."""
    area = {zone.name: zone.area_ha for zone in zones}
    totals: dict[tuple[int, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for plan in plans:
        year, week, _ = plan["day"].isocalendar()
        week_total = totals[(year, week)]
        for name, depth in plan["applied"].items():
            week_total[name] += depth * area[name] * M3_PER_MM_HA
    return {week: dict(by_zone) for week, by_zone in sorted(totals.items())}


def pump_peak(runs: list[tuple[int, int, str]], zones: list[Zone]) -> float:
    """Highest total flow (m3/h) the runs draw at any minute."""
    flow = {zone.name: zone.flow_m3h for zone in zones}
    events = sorted([(start, flow[name]) for start, _, name in runs] + [(end, -flow[name]) for _, end, name in runs])
    peak = current = 0.0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak
