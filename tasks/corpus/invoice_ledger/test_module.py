from datetime import date

import pytest

import module as m

TODAY = date(2024, 6, 30)


def ledger():
    a = m.new_invoice("INV-1", "acme", 10_000, date(2024, 6, 30))
    b = m.new_invoice("INV-2", "acme", 5_000, date(2024, 5, 31))
    c = m.new_invoice("INV-3", "globex", 7_500, date(2024, 4, 1))
    d = m.new_invoice("INV-4", "acme", 2_000, date(2024, 1, 1))
    return [a, b, c, d]


def test_new_invoice_fields():
    inv = m.new_invoice("INV-9", "acme", 1, date(2024, 1, 2))
    assert inv == {"number": "INV-9", "customer": "acme", "amount": 1, "paid": 0,
                   "due": date(2024, 1, 2)}


def test_new_invoice_rejects_non_positive():
    with pytest.raises(ValueError):
        m.new_invoice("X", "acme", 0, TODAY)
    with pytest.raises(ValueError):
        m.new_invoice("X", "acme", -5, TODAY)


def test_balance():
    inv = m.new_invoice("X", "acme", 900, TODAY)
    assert m.balance(inv) == 900
    inv["paid"] = 250
    assert m.balance(inv) == 650


def test_apply_partial_payment():
    inv = m.new_invoice("X", "acme", 1000, TODAY)
    assert m.apply_payment(inv, 300) == 0
    assert inv["paid"] == 300
    assert m.apply_payment(inv, 200) == 0
    assert inv["paid"] == 500
    assert inv["amount"] == 1000


def test_apply_exact_payment_leaves_no_change():
    inv = m.new_invoice("X", "acme", 1000, TODAY)
    assert m.apply_payment(inv, 1000) == 0
    assert inv["paid"] == 1000
    assert m.balance(inv) == 0


def test_apply_overpayment_returns_excess():
    inv = m.new_invoice("X", "acme", 1000, TODAY)
    m.apply_payment(inv, 400)
    assert m.apply_payment(inv, 700) == 100
    assert inv["paid"] == 1000
    assert inv["amount"] == 1000


def test_find_invoice():
    invs = ledger()
    assert m.find_invoice(invs, "INV-1") is invs[0]
    assert m.find_invoice(invs, "INV-4") is invs[3]
    assert m.find_invoice(invs, "INV-3") is invs[2]
    assert m.find_invoice(invs, "nope") is None
    assert m.find_invoice([], "INV-1") is None


def test_find_invoice_returns_first_match():
    first = m.new_invoice("DUP", "a", 1, TODAY)
    second = m.new_invoice("DUP", "b", 2, TODAY)
    assert m.find_invoice([first, second], "DUP") is first


def test_customer_balance():
    invs = ledger()
    invs[1]["paid"] = 1_000
    assert m.customer_balance(invs, "acme") == 10_000 + 4_000 + 2_000
    assert m.customer_balance(invs, "globex") == 7_500
    assert m.customer_balance(invs, "initech") == 0


def test_days_overdue():
    inv = m.new_invoice("X", "acme", 100, date(2024, 6, 1))
    assert m.days_overdue(inv, date(2024, 5, 31)) == 0
    assert m.days_overdue(inv, date(2024, 6, 1)) == 0
    assert m.days_overdue(inv, date(2024, 6, 2)) == 1
    assert m.days_overdue(inv, date(2024, 7, 1)) == 30


def test_days_overdue_paid_invoice_is_never_late():
    inv = m.new_invoice("X", "acme", 100, date(2024, 6, 1))
    inv["paid"] = 100
    assert m.days_overdue(inv, date(2024, 7, 1)) == 0
    inv["paid"] = 99
    assert m.days_overdue(inv, date(2024, 7, 1)) == 30


def test_aging_report_buckets():
    invs = ledger()
    report = m.aging_report(invs, TODAY)
    # INV-1 due today -> current; INV-2 30 days -> 1-30; INV-3 90 days -> 61+; INV-4 -> 61+
    assert report == {"current": 10_000, "1-30": 5_000, "31-60": 0, "61+": 9_500}


def test_aging_report_boundaries():
    def inv(n, due_days_ago):
        return m.new_invoice(n, "c", 10 ** n, date.fromordinal(TODAY.toordinal() - due_days_ago))

    invs = [inv(0, 0), inv(1, 1), inv(2, 30), inv(3, 31), inv(4, 60), inv(5, 61)]
    assert m.aging_report(invs, TODAY) == {
        "current": 1, "1-30": 110, "31-60": 11_000, "61+": 100_000,
    }


def test_aging_report_uses_open_balance_and_empty():
    invs = ledger()
    invs[2]["paid"] = 500
    assert m.aging_report(invs, TODAY)["61+"] == 9_000
    assert m.aging_report([], TODAY) == {"current": 0, "1-30": 0, "31-60": 0, "61+": 0}


def test_largest_unpaid():
    invs = ledger()
    assert m.largest_unpaid(invs) is invs[0]
    invs[0]["paid"] = 10_000
    assert m.largest_unpaid(invs) is invs[2]
    invs[2]["paid"] = 3_000
    assert m.largest_unpaid(invs) is invs[1]


def test_largest_unpaid_tie_keeps_first_and_none():
    a = m.new_invoice("A", "x", 500, TODAY)
    b = m.new_invoice("B", "x", 500, TODAY)
    assert m.largest_unpaid([a, b]) is a
    a["paid"] = 500
    b["paid"] = 500
    assert m.largest_unpaid([a, b]) is None
    assert m.largest_unpaid([]) is None


def test_largest_unpaid_single_and_last():
    a = m.new_invoice("A", "x", 100, TODAY)
    b = m.new_invoice("B", "x", 300, TODAY)
    assert m.largest_unpaid([a]) is a
    assert m.largest_unpaid([a, b]) is b


def test_average_invoice():
    assert m.average_invoice(ledger()) == (10_000 + 5_000 + 7_500 + 2_000) / 4
    assert m.average_invoice(ledger()) == 6125.0
    two = [m.new_invoice("A", "x", 1, TODAY), m.new_invoice("B", "x", 2, TODAY)]
    assert m.average_invoice(two) == 1.5
    assert m.average_invoice([]) == 0.0


def test_split_installments():
    assert m.split_installments(1000, 3) == [334, 333, 333]
    assert m.split_installments(1001, 3) == [334, 334, 333]
    assert m.split_installments(900, 3) == [300, 300, 300]
    assert m.split_installments(7, 1) == [7]
    assert sum(m.split_installments(12_345, 7)) == 12_345


def test_split_installments_needs_count():
    with pytest.raises(ValueError):
        m.split_installments(100, 0)


def test_statement_lines_sorted_by_due_and_open_only():
    invs = ledger()
    invs[1]["paid"] = 5_000
    invs[3]["paid"] = 500
    assert m.statement_lines(invs, "acme") == ["INV-4: 1500", "INV-1: 10000"]
    assert m.statement_lines(invs, "globex") == ["INV-3: 7500"]


def test_statement_lines_appends_and_default_not_shared():
    invs = ledger()
    existing = ["header"]
    assert m.statement_lines(invs, "globex", existing) is existing
    assert existing == ["header", "INV-3: 7500"]
    first = m.statement_lines(invs, "globex")
    second = m.statement_lines(invs, "globex")
    assert first == second == ["INV-3: 7500"]


def test_statement_lines_order_is_by_due_date_not_amount():
    late_small = m.new_invoice("S", "acme", 100, date(2024, 6, 1))
    early_big = m.new_invoice("B", "acme", 9_000, date(2024, 2, 1))
    middle = m.new_invoice("M", "acme", 50, date(2024, 3, 1))
    assert m.statement_lines([late_small, early_big, middle], "acme") == [
        "B: 9000", "M: 50", "S: 100",
    ]
