"""Warehouse picking: pick lists from orders, S-shaped bin routes, tote batching and waves.

Bin codes look like "07-12-3": aisle 7, bay 12, shelf level 3 (level 1 is the floor).
"""
from typing import NamedTuple

BAY_WIDTH_M = 1.5
AISLE_PITCH_M = 4.0
TOTE_CAPACITY_KG = 18.0
MAX_HAND_LEVEL = 4


class Bin(NamedTuple):
    aisle: int
    bay: int
    level: int


def parse_bin(code: str) -> Bin:
    aisle, bay, level = code.split("-")
    return Bin(int(aisle), int(bay), int(level))


def pick_list(orders: list[dict]) -> dict[str, int]:
    """Total quantity per SKU over every line of every order."""
    totals = {}
    for order in orders:
        for line in order["lines"]:
            totals[line["sku"]] = totals.get(line["sku"], 0) + line["qty"]
    return totals


def shortages(demand: dict[str, int], stock: dict[str, int]) -> dict[str, int]:
    """Units missing per SKU where the demand exceeds the stock on hand."""
    missing = {}
    for sku, qty in demand.items():
        available = stock.get(sku, 0)
        if qty > available:
            missing[sku] = qty - available
    return missing


def route_key(location: Bin) -> tuple[int, int, int]:
    """Odd aisles are walked with rising bay numbers, even aisles coming back down."""
    bay = location.bay if location.aisle % 2 == 1 else -location.bay
    return (location.aisle, bay, location.level)


def plan_route(locations: list[Bin]) -> list[Bin]:
    return sorted(set(locations), key=route_key)


def walk_distance(route: list[Bin]) -> float:
    """Metres between consecutive stops: along the aisles plus across them."""
    distance = 0.0
    for index in range(1, len(route)):
        here, there = route[index - 1], route[index]
        distance += abs(there.aisle - here.aisle) * AISLE_PITCH_M
        distance += abs(there.bay - here.bay) * BAY_WIDTH_M
    return distance


def aisle_changes(route: list[Bin]) -> int:
    changes = 0
    for index in range(1, len(route)):
        if route[index].aisle != route[index - 1].aisle:
            changes += 1
    return changes


def needs_reach_truck(locations: list[Bin]) -> list[Bin]:
    """Stops above the highest level a picker can reach by hand."""
    return [location for location in locations if location.level > MAX_HAND_LEVEL]


def batch_into_totes(items: list[tuple[str, float]], capacity: float = TOTE_CAPACITY_KG) -> list:
    """First-fit decreasing: heaviest item first, each into the first tote with room left."""
    totes = []
    loads = []
    for sku, weight in sorted(items, key=lambda item: item[1], reverse=True):
        if weight > capacity:
            raise ValueError(f"{sku} is heavier than a tote may be")
        for index in range(len(totes)):
            if loads[index] + weight <= capacity:
                totes[index].append(sku)
                loads[index] += weight
                break
        else:
            totes.append([sku])
            loads.append(weight)
    return totes


def assign_wave(release_minute: int, waves: list[tuple[int, str]]) -> str | None:
    """First wave (sorted by cutoff) whose cutoff is not before the order's release."""
    for cutoff, name in waves:
        if release_minute <= cutoff:
            return name
    return None


def pick_rate(units: int, minutes: int) -> float:
    """Units picked per hour."""
    if minutes <= 0:
        return 0.0
    return units * 60 / minutes


def top_movers(pick_counts: dict[str, int], n: int = 3) -> list[str]:
    """SKUs picked most often, ties in SKU order; candidates for the golden zone."""
    ranked = sorted(pick_counts, key=lambda sku: (-pick_counts[sku], sku))
    return ranked[:n]
