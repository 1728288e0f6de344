"""Parcel shipping quotes for a regional carrier (integer cents, kilograms).

The carrier bills the greater of the actual and the dimensional (volumetric) weight.
"""
import math
from dataclasses import dataclass

DIM_DIVISOR = 5000
FUEL_PERCENT = 12
RESIDENTIAL_FEE = 450
OVERSIZE_FEE = 2500
MAX_SIDE_CM = 120
MAX_LENGTH_PLUS_GIRTH_CM = 300


@dataclass
class Package:
    weight_kg: float
    length_cm: int
    width_cm: int
    height_cm: int
    residential: bool = False


def dimensional_weight(pkg: Package, divisor: int = DIM_DIVISOR) -> float:
    """Volumetric weight in kilograms."""
    volume = pkg.length_cm * pkg.width_cm * pkg.height_cm
    return volume / divisor


def billable_weight(pkg: Package) -> float:
    """Greater of actual and dimensional weight, rounded up to the next 0.5 kg."""
    weight = max(pkg.weight_kg, dimensional_weight(pkg))
    return math.ceil(weight * 2) / 2


def is_oversize(pkg: Package) -> bool:
    """Longest side over the limit, or length plus girth over the carrier maximum."""
    longest = max(pkg.length_cm, pkg.width_cm, pkg.height_cm)
    girth = 2 * (pkg.length_cm + pkg.width_cm + pkg.height_cm - longest)
    return longest > MAX_SIDE_CM or longest + girth > MAX_LENGTH_PLUS_GIRTH_CM


def rate_for_weight(weight_kg: float, table: list[tuple[float, int]]) -> int | None:
    """Price of the first bracket whose upper limit covers the weight (table sorted)."""
    for limit_kg, price in table:
        if weight_kg <= limit_kg:
            return price
    return None


def zone_between(origin: str, destination: str) -> int:
    """Zone 1 shares the 3-digit postcode prefix, zone 2 the first digit, zone 3 otherwise."""
    if origin[:3] == destination[:3]:
        return 1
    if origin[:1] == destination[:1]:
        return 2
    return 3


def surcharges(pkg: Package) -> dict[str, int]:
    """Accessorial fees that apply to the package, keyed by fee name."""
    fees = {}
    if pkg.residential:
        fees["residential"] = RESIDENTIAL_FEE
    if is_oversize(pkg):
        fees["oversize"] = OVERSIZE_FEE
    return fees


def quote(pkg: Package, tables: dict[int, list], origin: str, destination: str) -> dict:
    """Base rate for the zone, fuel surcharge on the base only, then accessorial fees."""
    zone = zone_between(origin, destination)
    base = rate_for_weight(billable_weight(pkg), tables[zone])
    if base is None:
        raise ValueError("package too heavy for this service")
    fuel = base * FUEL_PERCENT // 100
    fees = surcharges(pkg)
    total = base + fuel + sum(fees.values())
    return {"zone": zone, "base": base, "fuel": fuel, "fees": fees, "total": total}


def split_parcels(weights: list[float], max_kg: float) -> list[list[float]]:
    """Pack items in order into parcels no heavier than max_kg (next-fit)."""
    parcels = []
    current = []
    load = 0.0
    for weight in weights:
        if weight > max_kg:
            raise ValueError(f"item of {weight} kg exceeds the parcel limit")
        if load + weight > max_kg:
            parcels.append(current)
            current = []
            load = 0.0
        current.append(weight)
        load += weight
    if current:
        parcels.append(current)
    return parcels


def cheapest_service(totals: dict[str, int]) -> str | None:
    """Service with the lowest total; on a tie the service listed first wins."""
    best = None
    for service, total in totals.items():
        if best is None or total < totals[best]:
            best = service
    return best


def check_digit(serial: str) -> int:
    """GS1 mod-10 check digit: weights 3, 1, 3, ... starting from the rightmost digit."""
    total = 0
    digits = serial[::-1]
    for index in range(len(digits)):
        weight = 3 if index % 2 == 0 else 1
        total += int(digits[index]) * weight
    return (10 - total % 10) % 10
