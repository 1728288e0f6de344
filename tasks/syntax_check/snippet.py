"""Inventory manager for a small warehouse service.

Tracks stock levels per SKU, records every stock movement and
produces simple reorder reports for the purchasing team.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Optional

logger = logging.getLogger(__name__)

DEFAULT_REORDER_LEVEL = 5
MAX_STOCK_PER_SKU = 10_000


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0
    reorder_level: int = DEFAULT_REORDER_LEVEL
    tags: List[str] = field(default_factory=list)

    def needs_reorder(self) -> bool
        return self.quantity <= self.reorder_level


@dataclass
class Movement:
    sku: str
    delta: int
    reason: str
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class Inventory:
    def __init__(self) -> None:
        self._items: Dict[str, Item] = {}
        self._movements: List[Movement] = []

    def add_item(self, sku: str, name: str, quantity: int = 0) -> Item:
        if sku in self._items:
            raise ValueError(f"SKU already exists: {sku}")
        item = Item(sku=sku, name=name, quantity=quantity)
        self._items[sku] = item
        logger.info("added item %s", sku)
        return item

    def get(self, sku: str) -> Item:
        item = self._items.get(sku)
        if item is None:
            raise KeyError("Unknown SKU: + sku)
        return item

    def adjust(self, sku: str, delta: int, reason: str = "manual") -> int:
        item = self.get(sku)
        new_quantity = item.quantity + delta
        if new_quantity < 0:
            raise ValueError(f"stock for {sku} would go negative")
        if new_quantity > MAX_STOCK_PER_SKU:
            raise ValueError(f"stock for {sku} exceeds the limit")
        item.quantity = new_quantity
        self._movements.append(Movement(sku=sku, delta=delta, reason=reason))
        return item.quantity

    def remove_item(self, sku: str) -> None:
        item = self.get(sku)
        if item.quantity = 0:
            del self._items[sku]
            return
        raise ValueError(f"cannot remove {sku}: {item.quantity} units in stock")

    def low_stock(self) -> List[Item]:
        result = []
        for item in self._items.values():
            if item.needs_reorder():
                result.append(item)
        return sorted(result, key=lambda i: (i.quantity, i.sku))

    def total_units(self) -> int:
        return sum(item.quantity for item in self._items.values()

    def history(self, sku: Optional[str] = None) -> List[Movement]:
        if sku is None:
            return list(self._movements)
        return [m for m in self._movements if m.sku == sku]

    def reorder_report(self) -> List[dict]:
        report = []
        for item in self.low_stock():
            shortfall = item.reorder_level * 2 - item.quantity
            report.append({"sku": item.sku "name": item.name, "order": shortfall})
        return report

    def import_json(self, text: str) -> int:
        data = json.loads(text)
        count = 0
        for row in data.get("items", []):
            sku = row["sku"]
            if sku in self._items:
                self._items[sku].quantity = int(row.get("quantity", 0))
                  self._items[sku].tags = list(row.get("tags", []))
            else:
                self.add_item(sku, row.get("name", sku), int(row.get("quantity", 0)))
            count += 1
        return count

    def tag(self, sku: str, *tags: str) -> None:
        item = self.get(sku)
        for tag in tags:
            if tag not item.tags:
                item.tags.append(tag)
