"""Tests for the billing snippet. Run with the folder holding `snippet.py` on sys.path."""

from datetime import date

import snippet
from snippet import Invoice, LineItem


def make_invoice(*items, paid=0, customer="acme"):
    invoice = Invoice(number="INV-1", customer=customer, due=date(2024, 3, 31), paid_cents=paid)
    for item in items:
        invoice.add(item)
    return invoice


def test_line_item_subtotal():
    assert LineItem("widget", 250, 4).subtotal() == 1000


def test_volume_discount_below_first_tier():
    assert snippet.volume_discount_percent(1) == 0
    assert snippet.volume_discount_percent(9) == 0


def test_volume_discount_tier_minimum_is_inclusive():
    assert snippet.volume_discount_percent(10) == 5
    assert snippet.volume_discount_percent(50) == 10
    assert snippet.volume_discount_percent(100) == 15


def test_volume_discount_between_tiers():
    assert snippet.volume_discount_percent(11) == 5
    assert snippet.volume_discount_percent(75) == 10
    assert snippet.volume_discount_percent(1000) == 15


def test_discounted_subtotal():
    assert snippet.discounted_subtotal(LineItem("bolt", 100, 20)) == 1900


def test_totals_without_discount():
    invoice = make_invoice(LineItem("a", 1000, 1), LineItem("b", 500, 2, taxable=False))
    assert snippet.invoice_totals(invoice) == {"net": 2000, "tax": 200, "gross": 2200}


def test_tax_is_charged_on_discounted_amount():
    invoice = make_invoice(LineItem("bolt", 100, 20))
    totals = snippet.invoice_totals(invoice)
    assert totals["net"] == 1900
    assert totals["tax"] == 380
    assert totals["gross"] == 2280


def test_balance_due_never_negative():
    assert snippet.balance_due(make_invoice(LineItem("a", 1000, 1), paid=500)) == 700
    assert snippet.balance_due(make_invoice(LineItem("a", 1000, 1), paid=5000)) == 0


def test_paid_on_due_date_is_on_time():
    due = date(2024, 3, 31)
    assert snippet.is_paid_on_time(due, date(2024, 3, 30))
    assert snippet.is_paid_on_time(due, due)
    assert not snippet.is_paid_on_time(due, date(2024, 4, 1))
    assert snippet.is_paid_on_time(due, date(2024, 4, 3), grace_days=3)
    assert not snippet.is_paid_on_time(due, date(2024, 4, 4), grace_days=3)


def test_late_fee_not_overdue():
    assert snippet.late_fee(10000, 0) == 0


def test_late_fee_one_month():
    assert snippet.late_fee(10000, 1) == 200


def test_late_fee_compounds():
    assert snippet.late_fee(10000, 2) == 404


def test_late_fee_is_capped():
    capped = snippet.late_fee(10000, snippet.MAX_LATE_FEE_MONTHS)
    assert capped > snippet.late_fee(10000, snippet.MAX_LATE_FEE_MONTHS - 1)
    assert snippet.late_fee(10000, 24) == capped


def test_split_installments():
    assert snippet.split_installments(1000, 1) == [1000]
    assert snippet.split_installments(1000, 3) == [334, 333, 333]
    assert sum(snippet.split_installments(999, 4)) == 999
    assert len(snippet.split_installments(999, 4)) == 4


def test_split_installments_rejects_zero():
    try:
        snippet.split_installments(1000, 0)
    except ValueError:
        return
    raise AssertionError("expected ValueError")


def test_customer_balances():
    invoices = [
        make_invoice(LineItem("a", 1000, 1), customer="acme"),
        make_invoice(LineItem("b", 500, 1), customer="acme", paid=600),
        make_invoice(LineItem("c", 100, 10), customer="globex"),
    ]
    assert snippet.customer_balances(invoices) == {"acme": 1200, "globex": 1140}
