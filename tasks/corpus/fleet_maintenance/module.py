"""Fleet maintenance planner: services due by distance or date, shop availability and costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

SERVICE_KM = {"oil": 15_000, "brakes": 30_000, "tires": 40_000, "inspection": 0}
SERVICE_DAYS = {"oil": 365, "brakes": 730, "tires": 1460, "inspection": 365}
LABOUR_CENTS_PER_HOUR = 9_500
SOON_KM = 1_000
SOON_DAYS = 30


@dataclass
class Vehicle:
    plate: str
    odometer_km: int
    commissioned: date
    last_service: dict[str, tuple[int, date]] = field(default_factory=dict)
    in_shop: bool = False


def km_left(vehicle: Vehicle, kind: str) -> int | None:
    """Kilometres until a service is due by distance; None for date-only services."""
    interval = SERVICE_KM[kind]
    if interval == 0:
        return None
    last_km = vehicle.last_service[kind][0] if kind in vehicle.last_service else 0
    return last_km + interval - vehicle.odometer_km


def due_date(vehicle: Vehicle, kind: str) -> date:
    """Date a service is due by time, counted from the last service or commissioning."""
    start = vehicle.last_service[kind][1] if kind in vehicle.last_service else vehicle.commissioned
    return start + timedelta(days=SERVICE_DAYS[kind])


def status(vehicle: Vehicle, kind: str, today: date) -> str:
    """'overdue', 'soon' (within SOON_KM or SOON_DAYS) or 'ok', whichever limit comes first."""
    remaining_km = km_left(vehicle, kind)
    remaining_days = (due_date(vehicle, kind) - today).days
    if remaining_days < 0 or remaining_km is not None and remaining_km <= 0:
        return "overdue"
    if remaining_days <= SOON_DAYS or remaining_km is not None and remaining_km <= SOON_KM:
        return "soon"
    return "ok"


def services_needed(vehicle: Vehicle, today: date, include_soon: bool = False) -> list[str]:
    """Service kinds that are overdue (and optionally soon due), in SERVICE_KM order."""
    wanted = ("overdue", "soon") if include_soon else ("overdue",)
    result = []
    for kind in SERVICE_KM:
        if status(vehicle, kind, today) in wanted:
            result.append(kind)
    return result


def record_service(vehicle: Vehicle, kinds: list[str], today: date) -> None:
    """Marks services as done at the current odometer reading."""
    for kind in kinds:
        vehicle.last_service[kind] = (vehicle.odometer_km, today)


def overdue_plates(vehicles: list[Vehicle], today: date) -> list[str]:
    """Plates of vehicles on the road with at least one overdue service."""
    plates = []
    for vehicle in vehicles:
        if not vehicle.in_shop and services_needed(vehicle, today):
            plates.append(vehicle.plate)
    return plates


def pick_available(vehicles: list[Vehicle], today: date, needed: int) -> list[str] | None:
    """First `needed` plates not in the shop and with nothing overdue, or None if too few."""
    chosen = []
    for vehicle in vehicles:
        if vehicle.in_shop or services_needed(vehicle, today):
            continue
        chosen.append(vehicle.plate)
        if len(chosen) == needed:
            return chosen
    return None


def service_cost(hours: float, parts_cents: list[int] | None = None, discount_pct: int = 0) -> int:
    """Labour plus parts in cents, with a whole-percent fleet discount rounded down."""
    if parts_cents is None:
        parts_cents = []
    total = round(hours * LABOUR_CENTS_PER_HOUR) + sum(parts_cents)
    return total - total * discount_pct // 100


def km_per_day(log: list[tuple[date, int]]) -> int:
    """Average whole kilometres per day between the first and last odometer entries."""
    if len(log) < 2:
        return 0
    days = (log[-1][0] - log[0][0]).days
    if days <= 0:
        return 0
    return (log[-1][1] - log[0][1]) // days


def fuel_per_100km(litres: float, km: int) -> float:
    """Consumption in litres per 100 km; 0.0 when nothing was driven."""
    if km <= 0:
        return 0.0
    return litres / km * 100
