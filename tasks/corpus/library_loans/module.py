"""Loan desk helpers for a small public library: due dates, overdue fines and hold queues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

LOAN_DAYS = {"book": 21, "dvd": 7, "magazine": 14}
DAILY_FINE_CENTS = {"book": 25, "dvd": 100, "magazine": 10}
MAX_FINE_CENTS = 1000
GRACE_DAYS = 2
MAX_RENEWALS = 2
BLOCKING_FINE_CENTS = 500


@dataclass
class Loan:
    item_id: str
    kind: str
    borrowed_on: date
    renewals: int = 0
    returned_on: date | None = None


def due_date(loan: Loan) -> date:
    """Due date; every renewal adds one more full loan period."""
    days = LOAN_DAYS[loan.kind] * (1 + loan.renewals)
    return loan.borrowed_on + timedelta(days=days)


def days_overdue(loan: Loan, today: date) -> int:
    """Days past the due date, or 0 while still inside the grace period."""
    end = today if loan.returned_on is None else loan.returned_on
    late = (end - due_date(loan)).days
    if late <= GRACE_DAYS:
        return 0
    return late


def fine_cents(loan: Loan, today: date) -> int:
    """Overdue fine for one loan, capped at MAX_FINE_CENTS."""
    late = days_overdue(loan, today)
    fine = late * DAILY_FINE_CENTS[loan.kind]
    return min(fine, MAX_FINE_CENTS)


def total_fines(loans: list[Loan], today: date) -> int:
    """Sum of the fines of all loans of one patron."""
    total = 0
    for loan in loans:
        total += fine_cents(loan, today)
    return total


def can_renew(loan: Loan, today: date, holds: list[str] | None = None) -> bool:
    """Renewal needs: not yet due, below the renewal limit, and no hold on the item."""
    if holds is None:
        holds = []
    if loan.renewals >= MAX_RENEWALS:
        return False
    if loan.item_id in holds or loan.returned_on is not None:
        return False
    return today <= due_date(loan)


def first_overdue(loans: list[Loan], today: date) -> Loan | None:
    """The first loan still out and past its grace period, in list order."""
    for loan in loans:
        if loan.returned_on is None and days_overdue(loan, today) > 0:
            return loan
    return None


def can_borrow(loans: list[Loan], today: date, limit: int = 5) -> bool:
    """A patron may borrow while under the item limit and below the blocking fine."""
    active = [loan for loan in loans if loan.returned_on is None]
    if len(active) >= limit:
        return False
    return total_fines(loans, today) < BLOCKING_FINE_CENTS


def due_soon(loans: list[Loan], today: date, within_days: int = 3) -> list[str]:
    """Item ids of open loans due in the next `within_days` days (today included)."""
    result = []
    for loan in loans:
        remaining = (due_date(loan) - today).days
        if loan.returned_on is None and 0 <= remaining <= within_days:
            result.append(loan.item_id)
    return result


class HoldQueue:
    """First-come first-served queue of patrons waiting for one item."""

    def __init__(self, item_id: str, patrons: list[str] | None = None) -> None:
        self.item_id = item_id
        if patrons is None:
            patrons = []
        self.patrons = patrons

    def place(self, patron: str) -> int:
        """Adds a patron once and returns their 1-based position in the queue."""
        if patron in self.patrons:
            return self.patrons.index(patron) + 1
        self.patrons.append(patron)
        return len(self.patrons)

    def next_patron(self) -> str | None:
        """Removes and returns the patron at the head of the queue."""
        if len(self.patrons) == 0:
            return None
        return self.patrons.pop(0)

    def waiting_behind(self, patron: str) -> list[str]:
        """Patrons queued after `patron`."""
        position = self.patrons.index(patron)
        return self.patrons[position + 1:]
