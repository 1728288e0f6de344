"""Subscription billing: trials, renewals, seat charges, proration and dunning (in cents)."""
import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

ANNUAL_DISCOUNT_PERCENT = 15
DUNNING_STEPS = [(1, "retry"), (3, "warn"), (5, "suspend")]


@dataclass(frozen=True)
class Plan:
    code: str
    monthly_cents: int
    trial_days: int = 0
    included_seats: int = 1
    seat_cents: int = 0


@dataclass
class Subscription:
    plan: Plan
    started: date
    seats: int = 1
    credits: list[int] = field(default_factory=list)

    def trial_end(self) -> date:
        """First billed day, i.e. the day after the last trial day."""
        return self.started + timedelta(days=self.plan.trial_days)

    def in_trial(self, today: date) -> bool:
        return today < self.trial_end()

    def seat_charge(self) -> int:
        """Seats above the plan's included seats are billed per seat."""
        extra = max(0, self.seats - self.plan.included_seats)
        return extra * self.plan.seat_cents


def add_months(anchor: date, months: int) -> date:
    """Same day `months` later, clamped to the last day of a shorter month."""
    month_index = anchor.month - 1 + months
    year = anchor.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def period_bounds(anchor: date, today: date) -> tuple[date, date]:
    """Monthly billing period [start, end) from the anchor day that contains today."""
    months = (today.year - anchor.year) * 12 + today.month - anchor.month
    if add_months(anchor, months) > today:
        months -= 1
    return add_months(anchor, months), add_months(anchor, months + 1)


def prorate(amount_cents: int, start: date, end: date, change_day: date) -> int:
    """Share of the amount for the unused days from change_day to the period end."""
    total_days = (end - start).days
    remaining = (end - change_day).days
    return amount_cents * remaining // total_days


def plan_change_amount(sub: Subscription, new_plan: Plan, anchor: date, today: date) -> int:
    """Positive: charge now for an upgrade; negative: credit for a downgrade."""
    start, end = period_bounds(anchor, today)
    old_part = prorate(sub.plan.monthly_cents, start, end, today)
    new_part = prorate(new_plan.monthly_cents, start, end, today)
    return new_part - old_part


def apply_credits(amount_cents: int, credits: list[int] | None = None) -> tuple[int, list[int]]:
    """Spend credits oldest first; return the amount still due and the unused credits."""
    if credits is None:
        credits = []
    due = amount_cents
    left = []
    for credit in credits:
        if due == 0:
            left.append(credit)
        elif credit <= due:
            due -= credit
        else:
            left.append(credit - due)
            due = 0
    return due, left


def renewal_invoice(sub: Subscription, today: date) -> dict[str, int]:
    """Renewal charge for the subscription; nothing is billed during the trial."""
    if sub.in_trial(today):
        return {"plan": 0, "seats": 0, "credits_used": 0, "due": 0}
    gross = sub.plan.monthly_cents + sub.seat_charge()
    due, left = apply_credits(gross, sub.credits)
    used = sum(sub.credits) - sum(left)
    sub.credits = left
    seats = sub.seat_charge()
    return {"plan": sub.plan.monthly_cents, "seats": seats, "credits_used": used, "due": due}


def upcoming_renewals(sub: Subscription, count: int) -> list[date]:
    """The next `count` charge dates, the first one when the trial ends."""
    first = sub.trial_end()
    dates = []
    for index in range(count):
        dates.append(add_months(first, index))
    return dates


def annual_price(plan: Plan) -> int:
    """Twelve months with the annual discount, rounded down to whole cents."""
    return plan.monthly_cents * 12 * (100 - ANNUAL_DISCOUNT_PERCENT) // 100


def dunning_action(failed_attempts: int) -> str | None:
    """Action for the highest dunning threshold the failed attempts have reached."""
    for threshold, action in reversed(DUNNING_STEPS):
        if failed_attempts >= threshold:
            return action
    return None
