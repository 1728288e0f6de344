"""Monthly payroll deductions: progressive tax, pension, overtime and garnishment orders.

All money is in integer cents; percentages are whole numbers unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# (monthly threshold in cents, marginal rate in percent), sorted by threshold
TAX_BRACKETS = [(0, 0), (1_000_00, 10), (4_000_00, 20), (9_000_00, 35)]
PENSION_CAP_CENTS = 500_00
OVERTIME_THRESHOLD_HOURS = 40
PROTECTED_NET_CENTS = 1_200_00


@dataclass
class Payslip:
    employee: str
    gross: int
    deductions: dict[str, int] = field(default_factory=dict)


def progressive_tax(gross: int) -> int:
    """Tax owed on a monthly gross, each slice taxed at its own bracket rate."""
    tax = 0
    for i in range(len(TAX_BRACKETS)):
        lower, rate = TAX_BRACKETS[i]
        upper = TAX_BRACKETS[i + 1][0] if i + 1 < len(TAX_BRACKETS) else gross
        if gross <= lower:
            break
        tax += (min(gross, upper) - lower) * rate // 100
    return tax


def pension_contribution(gross: int, rate_percent: int) -> int:
    """Employee pension contribution, rounded down and capped at PENSION_CAP_CENTS."""
    amount = gross * rate_percent // 100
    return min(amount, PENSION_CAP_CENTS)


def overtime_pay(hours: float, hourly_cents: int, multiplier: float = 1.5) -> int:
    """Pay for one week: hours above the threshold are paid at the overtime multiplier."""
    regular = min(hours, OVERTIME_THRESHOLD_HOURS)
    extra = hours - OVERTIME_THRESHOLD_HOURS if hours > OVERTIME_THRESHOLD_HOURS else 0
    return round(regular * hourly_cents + extra * hourly_cents * multiplier)


def prorated_salary(monthly_cents: int, days_worked: int, days_in_month: int) -> int:
    """Salary for a partial month; whole cents, rounded down."""
    if days_worked >= days_in_month:
        return monthly_cents
    return monthly_cents * days_worked // days_in_month


def build_payslip(employee: str, gross: int, pension_rate: int, health_cents: int) -> Payslip:
    """Payslip with the standard tax, pension and health deductions filled in."""
    slip = Payslip(employee, gross)
    slip.deductions["tax"] = progressive_tax(gross)
    slip.deductions["pension"] = pension_contribution(gross, pension_rate)
    slip.deductions["health"] = health_cents
    return slip


def net_pay(slip: Payslip) -> int:
    """Gross minus every deduction on the slip."""
    return slip.gross - sum(slip.deductions.values())


def apply_garnishments(net: int, orders: list[int] | None = None) -> tuple[int, list[int]]:
    """Pays court orders in priority order without taking net below PROTECTED_NET_CENTS.

    Returns the remaining net and the amount actually paid to each order.
    """
    if orders is None:
        orders = []
    paid = []
    available = max(net - PROTECTED_NET_CENTS, 0)
    for amount in orders:
        share = min(amount, available)
        paid.append(share)
        available -= share
    return net - sum(paid), paid


def year_to_date(slips: list[Payslip]) -> dict[str, int]:
    """Totals of gross, tax and pension over a list of payslips."""
    totals = {"gross": 0, "tax": 0, "pension": 0}
    for slip in slips:
        totals["gross"] += slip.gross
        totals["tax"] += slip.deductions.get("tax", 0)
        totals["pension"] += slip.deductions.get("pension", 0)
    return totals


def average_net(slips: list[Payslip]) -> float:
    """Mean net pay in cents (as a float); 0.0 for no slips."""
    if len(slips) == 0:
        return 0.0
    return sum(net_pay(slip) for slip in slips) / len(slips)


def first_over_budget(slips: list[Payslip], budget_cents: int) -> str | None:
    """Employee of the first payslip whose gross exceeds the budget line."""
    for slip in slips:
        if slip.gross > budget_cents:
            return slip.employee
    return None
