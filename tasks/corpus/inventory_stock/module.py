"""Stock levels for a small warehouse: receiving, reservations, reorders and stock-takes."""

from dataclasses import dataclass, field

BIN_CAPACITY = 40
SALES_WINDOW_DAYS = 14


@dataclass
class StockItem:
    sku: str
    on_hand: int = 0
    reserved: int = 0
    unit_cost_cents: int = 0
    reorder_point: int = 10

    def available(self) -> int:
        """Units that can still be promised to new orders."""
        return max(self.on_hand - self.reserved, 0)


@dataclass
class Warehouse:
    items: dict[str, StockItem] = field(default_factory=dict)

    def receive(self, sku: str, quantity: int, unit_cost_cents: int) -> StockItem:
        """Add units; the unit cost becomes the weighted average of old and new stock."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        item = self.items.setdefault(sku, StockItem(sku))
        total_cost = item.on_hand * item.unit_cost_cents + quantity * unit_cost_cents
        item.on_hand += quantity
        item.unit_cost_cents = total_cost // item.on_hand
        return item

    def reserve(self, sku: str, quantity: int) -> bool:
        """Reserve units for an order; refuse when not enough are available."""
        item = self.items[sku]
        if quantity > item.available():
            return False
        item.reserved += quantity
        return True

    def pick(self, sku: str, quantity: int) -> int:
        """Ship reserved units and return how many units stay reserved."""
        item = self.items[sku]
        if quantity > item.reserved:
            raise ValueError("cannot pick more than reserved")
        item.reserved -= quantity
        item.on_hand -= quantity
        return item.reserved

    def needs_reorder(self) -> list[str]:
        """SKUs whose available stock is at or below their reorder point, sorted."""
        result = []
        for sku, item in self.items.items():
            if item.available() <= item.reorder_point:
                result.append(sku)
        return sorted(result)

    def valuation_cents(self) -> int:
        """Value of all stock on hand at average unit cost."""
        total = 0
        for item in self.items.values():
            total += item.on_hand * item.unit_cost_cents
        return total


def bins_needed(quantity: int) -> int:
    """Number of storage bins for a quantity; a partly filled bin still counts."""
    return (quantity + BIN_CAPACITY - 1) // BIN_CAPACITY


def days_of_cover(on_hand: int, daily_sales: list[int]) -> float | None:
    """Days the stock lasts at the average sales of the recent window (None without sales)."""
    recent = daily_sales[-SALES_WINDOW_DAYS:]
    sold = sum(recent)
    if sold == 0:
        return None
    return on_hand / (sold / len(recent))


def first_stockout_day(on_hand: int, forecast: list[int]) -> int:
    """Index of the first day whose forecast demand cannot be fully served, or -1."""
    remaining = on_hand
    for day in range(len(forecast)):
        remaining -= forecast[day]
        if remaining < 0:
            return day
    return -1


def parse_count_sheet(lines: list[str]) -> dict[str, int]:
    """Parse 'SKU,count' stock-take lines; line 0 is the header, repeated SKUs add up."""
    counts: dict[str, int] = {}
    for index in range(1, len(lines)):
        sku, raw = lines[index].split(",")
        counts[sku.strip()] = counts.get(sku.strip(), 0) + int(raw)
    return counts


def count_discrepancies(warehouse: Warehouse, counts: dict[str, int], tolerance: int = 0) -> dict:
    """Counted minus recorded units for SKUs whose difference exceeds the tolerance."""
    diffs = {}
    for sku, item in warehouse.items.items():
        diff = counts.get(sku, 0) - item.on_hand
        if abs(diff) > tolerance:
            diffs[sku] = diff
    return diffs


def reorder_lines(warehouse: Warehouse, order_up_to: int, lines: list | None = None) -> list:
    """Append (sku, units) purchase lines that bring every low SKU up to order_up_to units."""
    if lines is None:
        lines = []
    for sku in warehouse.needs_reorder():
        lines.append((sku, order_up_to - warehouse.items[sku].available()))
    return lines
