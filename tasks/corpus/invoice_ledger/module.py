"""Invoice ledger for a small business: invoices, payments, balances and aging.

Invoices are plain dicts so they can be stored as JSON:
{"number": str, "customer": str, "amount": cents, "paid": cents, "due": date}.
"""

from datetime import date

AGING_BUCKETS = (("current", 0), ("1-30", 30), ("31-60", 60))
OLDEST_BUCKET = "61+"


def new_invoice(number: str, customer: str, amount: int, due: date) -> dict:
    """Create an unpaid invoice; amounts are positive integer cents."""
    if amount <= 0:
        raise ValueError("invoice amount must be positive")
    return {"number": number, "customer": customer, "amount": amount, "paid": 0, "due": due}


def balance(invoice: dict) -> int:
    """Amount still owed on an invoice."""
    return invoice["amount"] - invoice["paid"]


def apply_payment(invoice: dict, amount: int) -> int:
    """Record a payment and return the part of it that exceeds the balance (refundable)."""
    owed = balance(invoice)
    if amount > owed:
        invoice["paid"] = invoice["amount"]
        return amount - owed
    invoice["paid"] += amount
    return 0


def find_invoice(invoices: list[dict], number: str) -> dict | None:
    """The invoice with the given number, or None."""
    for invoice in invoices:
        if invoice["number"] == number:
            return invoice
    return None


def customer_balance(invoices: list[dict], customer: str) -> int:
    """Total still owed by one customer."""
    total = 0
    for invoice in invoices:
        if invoice["customer"] == customer:
            total += balance(invoice)
    return total


def days_overdue(invoice: dict, today: date) -> int:
    """Days past the due date (0 when not yet due or fully paid)."""
    if balance(invoice) == 0 or today <= invoice["due"]:
        return 0
    return (today - invoice["due"]).days


def aging_report(invoices: list[dict], today: date) -> dict[str, int]:
    """Open balances grouped by how many days overdue they are."""
    report = {name: 0 for name, _ in AGING_BUCKETS}
    report[OLDEST_BUCKET] = 0
    for invoice in invoices:
        late = days_overdue(invoice, today)
        bucket = OLDEST_BUCKET
        for name, limit in AGING_BUCKETS:
            if late <= limit:
                bucket = name
                break
        report[bucket] += balance(invoice)
    return report


def largest_unpaid(invoices: list[dict]) -> dict | None:
    """The invoice with the biggest open balance; the earliest one wins ties."""
    best = None
    for invoice in invoices:
        if balance(invoice) > 0 and (best is None or balance(invoice) > balance(best)):
            best = invoice
    return best


def average_invoice(invoices: list[dict]) -> float:
    """Mean invoice amount in cents (0.0 for an empty ledger)."""
    if not invoices:
        return 0.0
    return sum(invoice["amount"] for invoice in invoices) / len(invoices)


def split_installments(total: int, count: int) -> list[int]:
    """Split a total into count installments; the first ones absorb the leftover cents."""
    if count < 1:
        raise ValueError("need at least one installment")
    base = total // count
    extra = total % count
    return [base + 1 if index < extra else base for index in range(count)]


def statement_lines(invoices: list[dict], customer: str, lines: list | None = None) -> list:
    """Append 'number: owed' lines for the customer's open invoices, oldest due first."""
    if lines is None:
        lines = []
    open_items = [inv for inv in invoices if inv["customer"] == customer and balance(inv) > 0]
    for invoice in sorted(open_items, key=lambda inv: inv["due"]):
        lines.append(f"{invoice['number']}: {balance(invoice)}")
    return lines
