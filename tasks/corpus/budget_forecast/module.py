"""Budget forecast for a small team: monthly projections, runway and variance, all in cents.

Growth rates are monthly and given in basis points (125 bp = 1.25 % per month).
"""


def split_annual(total_cents: int, months: int = 12) -> list[int]:
    """Spreads an annual amount over months; leftover cents go to the earliest months."""
    base = total_cents // months
    extra = total_cents % months
    return [base + 1 if i < extra else base for i in range(months)]


def grow(amount_cents: int, rate_bp: int) -> int:
    """One month of growth, rounded down to whole cents."""
    return amount_cents * (10_000 + rate_bp) // 10_000


def project(start_cents: int, rate_bp: int, months: int) -> list[int]:
    """Amounts for months 1..n; month 1 is `start_cents`, each later month grows once."""
    result = []
    amount = start_cents
    for _ in range(months):
        result.append(amount)
        amount = grow(amount, rate_bp)
    return result


def add_one_offs(values: list[int], one_offs: list[tuple[int, int]] | None = None) -> list[int]:
    """Copy of `values` with (month index, cents) one-off items added."""
    if one_offs is None:
        one_offs = []
    result = list(values)
    for index, cents in one_offs:
        result[index] += cents
    return result


def cumulative(values: list[int], opening: int = 0) -> list[int]:
    """Running balance after each month, starting from an opening balance."""
    running = opening
    result = []
    for value in values:
        running += value
        result.append(running)
    return result


def runway_month(cash: int, income: list[int], costs: list[int]) -> int | None:
    """1-based month in which the cash balance first drops below zero, None if it never does."""
    balance = cash
    for month in range(1, len(costs) + 1):
        balance += income[month - 1] - costs[month - 1]
        if balance < 0:
            return month
    return None


def break_even_month(income: list[int], costs: list[int]) -> int | None:
    """1-based first month whose income covers that month's costs."""
    for i in range(len(income)):
        if income[i] >= costs[i]:
            return i + 1
    return None


def quarter_totals(monthly: list[int]) -> list[int]:
    """Sums of months 1-3, 4-6, 7-9 and 10-12."""
    totals = [0, 0, 0, 0]
    for i in range(len(monthly)):
        totals[i // 3] += monthly[i]
    return totals


def variance(budget: dict[str, int], actual: dict[str, int], tolerance_pct: int = 5) -> dict:
    """Per budget line: "over", "under" or "on track" within +/- tolerance_pct of the plan."""
    report = {}
    for line, planned in budget.items():
        spent = actual.get(line, 0)
        margin = planned * tolerance_pct // 100
        if spent > planned + margin:
            report[line] = "over"
        elif spent < planned - margin:
            report[line] = "under"
        else:
            report[line] = "on track"
    return report


def format_cents(cents: int) -> str:
    """1234567 -> "12,345.67"; negative amounts keep their sign."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100:,}.{cents % 100:02d}"


def summarize(plan: dict) -> dict:
    """Totals and runway for a plan with keys cash, income, costs, income_bp, costs_bp, months."""
    income = project(plan["income"], plan["income_bp"], plan["months"])
    costs = project(plan["costs"], plan["costs_bp"], plan["months"])
    net = sum(income) - sum(costs)
    average = net / plan["months"]
    return {"net": net, "average": average, "runway": runway_month(plan["cash"], income, costs)}
