"""Sensor time-series helpers: rolling means, threshold alerts, gaps, buckets and uptime."""

from __future__ import annotations

from typing import NamedTuple

# physical limits per sensor kind; readings outside them are glitches
LIMITS = {"temperature": (-40.0, 85.0), "humidity": (0.0, 100.0), "co2": (250.0, 10000.0)}


class Reading(NamedTuple):
    timestamp: int  # seconds since the epoch
    value: float


def rolling_mean(values: list[float], window: int) -> list[float]:
    """Mean of every full window of `window` consecutive values."""
    if window <= 0:
        raise ValueError("window must be positive")
    result = []
    for end in range(window, len(values) + 1):
        result.append(sum(values[end - window:end]) / window)
    return result


def valid_readings(readings: list[Reading], kind: str) -> list[Reading]:
    """Readings inside the physical limits of a sensor kind (limits included)."""
    low, high = LIMITS[kind]
    return [reading for reading in readings if low <= reading.value <= high]


def threshold_alerts(readings: list[Reading], threshold: float, min_run: int = 3) -> list[int]:
    """Start timestamps of runs of at least `min_run` readings above the threshold."""
    alerts = []
    run = 0
    for i in range(len(readings)):
        if readings[i].value > threshold:
            run += 1
        else:
            run = 0
        if run == min_run:
            alerts.append(readings[i - min_run + 1].timestamp)
    return alerts


def find_gaps(readings: list[Reading], max_gap: int) -> list[tuple[int, int]]:
    """(before, after) timestamps of consecutive readings more than `max_gap` seconds apart."""
    gaps = []
    for i in range(1, len(readings)):
        if readings[i].timestamp - readings[i - 1].timestamp > max_gap:
            gaps.append((readings[i - 1].timestamp, readings[i].timestamp))
    return gaps


def bucket_means(readings: list[Reading], bucket_seconds: int) -> dict[int, float]:
    """Mean value per time bucket, keyed by the bucket start, in time order."""
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for reading in readings:
        start = reading.timestamp // bucket_seconds * bucket_seconds
        sums[start] = sums.get(start, 0.0) + reading.value
        counts[start] = counts.get(start, 0) + 1
    return {start: sums[start] / counts[start] for start in sorted(sums)}


def uptime_percent(readings: list[Reading], interval: int, start: int, end: int) -> float:
    """Received readings in [start, end) as a percentage of the expected count (max 100)."""
    expected = (end - start) // interval
    if expected <= 0:
        return 0.0
    received = 0
    for reading in readings:
        if start <= reading.timestamp < end:
            received += 1
    return min(received / expected * 100, 100.0)


def rates(readings: list[Reading]) -> list[float]:
    """Change per second between consecutive readings."""
    result = []
    for prev, cur in zip(readings, readings[1:]):
        result.append((cur.value - prev.value) / (cur.timestamp - prev.timestamp))
    return result


def first_at_or_above(readings: list[Reading], level: float) -> Reading | None:
    """Earliest reading that reaches `level`."""
    for reading in readings:
        if reading.value >= level:
            return reading
    return None


def comfort(sample: dict[str, float]) -> str:
    """Indoor comfort rating for one combined sample of temperature, humidity and CO2."""
    if sample["co2"] > 1500:
        return "stuffy"
    if sample["temperature"] < 18 or sample["temperature"] > 26:
        return "too cold" if sample["temperature"] < 18 else "too warm"
    if sample["humidity"] < 30:
        return "dry"
    if sample["humidity"] > 60:
        return "humid"
    return "ok"
