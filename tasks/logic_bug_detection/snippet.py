"""Invoice calculations for the billing service.

All amounts are integer cents so that totals never drift.  The pricing
rules (volume tiers, tax, late fees, installments) follow BILLING.md.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Dict, List

TAX_RATE_PERCENT = 20
LATE_FEE_PERCENT = 2
MAX_LATE_FEE_MONTHS = 6

# Volume discount tiers as (minimum quantity, discount percent), ascending.
VOLUME_TIERS = [(10, 5), (50, 10), (100, 15)]


@dataclass
class LineItem:
    description: str
    unit_price_cents: int
    quantity: int
    taxable: bool = True

    def subtotal(self) -> int:
        return self.unit_price_cents * self.quantity


@dataclass
class Invoice:
    number: str
    customer: str
    due: date
    items: List[LineItem] = field(default_factory=list)
    paid_cents: int = 0

    def add(self, item: LineItem) -> None:
        if item.quantity <= 0:
            raise ValueError("quantity must be positive")
        self.items.append(item)


def volume_discount_percent(quantity: int) -> int:
    """Discount of the highest tier whose minimum quantity is reached."""
    percent = 0
    for minimum, tier_percent in VOLUME_TIERS:
        if quantity > minimum:
            percent = tier_percent
    return percent


def discounted_subtotal(item: LineItem) -> int:
    gross = item.subtotal()
    discount = gross * volume_discount_percent(item.quantity) // 100
    return gross - discount


def invoice_totals(invoice: Invoice) -> Dict[str, int]:
    """Net amount, tax on the taxable (discounted) lines, and the gross total."""
    net = 0
    taxable = 0
    for item in invoice.items:
        amount = discounted_subtotal(item)
        net += amount
        if item.taxable:
            taxable += item.subtotal()
    tax = taxable * TAX_RATE_PERCENT // 100
    return {"net": net, "tax": tax, "gross": net + tax}


def balance_due(invoice: Invoice) -> int:
    totals = invoice_totals(invoice)
    return max(totals["gross"] - invoice.paid_cents, 0)


def is_paid_on_time(due: date, paid: date, grace_days: int = 0) -> bool:
    """A payment on the due date itself, or within the grace period, is on time."""
    return (paid - due).days <= grace_days


def late_fee(balance_cents: int, months_overdue: int) -> int:
    """LATE_FEE_PERCENT per full month overdue, compounded monthly.

    At most MAX_LATE_FEE_MONTHS months are charged.
    """
    months = min(months_overdue, MAX_LATE_FEE_MONTHS)
    amount = balance_cents
    for _ in range(1, months):
        amount = amount * (100 + LATE_FEE_PERCENT) // 100
    return amount - balance_cents


def split_installments(total_cents: int, count: int) -> List[int]:
    """Split a total into `count` installments; the first absorbs the remainder."""
    if count < 1:
        raise ValueError("count must be at least 1")
    base = total_cents // count
    schedule = [base + total_cents % count]
    for _ in range(1, count):
        schedule.append(base)
    return schedule


def customer_balances(invoices: List[Invoice]) -> Dict[str, int]:
    balances: Dict[str, int] = {}
    for invoice in invoices:
        balances[invoice.customer] = balances.get(invoice.customer, 0) + balance_due(invoice)
    return balances
