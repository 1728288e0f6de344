from datetime import date

import module as m

JAN1 = date(2024, 1, 1)


def book(item="b1", renewals=0, returned=None, kind="book"):
    return m.Loan(item, kind, JAN1, renewals, returned)


def test_due_date_per_kind():
    assert m.due_date(book()) == date(2024, 1, 22)
    assert m.due_date(book(kind="dvd")) == date(2024, 1, 8)
    assert m.due_date(book(kind="magazine")) == date(2024, 1, 15)


def test_due_date_with_renewals():
    assert m.due_date(book(renewals=1)) == date(2024, 2, 12)
    assert m.due_date(book(renewals=2)) == date(2024, 3, 4)


def test_days_overdue_grace_boundaries():
    loan = book()
    assert m.days_overdue(loan, date(2024, 1, 20)) == 0
    assert m.days_overdue(loan, date(2024, 1, 22)) == 0
    assert m.days_overdue(loan, date(2024, 1, 24)) == 0
    assert m.days_overdue(loan, date(2024, 1, 25)) == 3
    assert m.days_overdue(loan, date(2024, 2, 1)) == 10


def test_days_overdue_uses_return_date():
    assert m.days_overdue(book(returned=date(2024, 1, 30)), date(2024, 3, 1)) == 8
    assert m.days_overdue(book(returned=date(2024, 1, 23)), date(2024, 3, 1)) == 0


def test_fine_per_kind():
    assert m.fine_cents(book(), date(2024, 1, 25)) == 75
    assert m.fine_cents(book(kind="dvd"), date(2024, 1, 11)) == 300
    assert m.fine_cents(book(kind="magazine"), date(2024, 1, 18)) == 30
    assert m.fine_cents(book(), date(2024, 1, 23)) == 0


def test_fine_cap():
    assert m.fine_cents(book(kind="dvd"), date(2024, 1, 18)) == 1000
    assert m.fine_cents(book(kind="dvd"), date(2024, 1, 17)) == 900
    assert m.fine_cents(book(), date(2024, 3, 31)) == 1000


def test_total_fines():
    assert m.total_fines([], date(2024, 2, 1)) == 0
    loans = [book(), book("d1", kind="dvd"), book("b2", returned=date(2024, 1, 10))]
    # book 10 days -> 250, dvd 24 days -> capped 1000, returned in time -> 0
    assert m.total_fines(loans, date(2024, 2, 1)) == 1250
    assert m.total_fines([book()], date(2024, 1, 25)) == 75


def test_can_renew_limits():
    today = date(2024, 1, 10)
    assert m.can_renew(book(renewals=1), today) is True
    assert m.can_renew(book(renewals=2), today) is False
    assert m.can_renew(book(renewals=0), today) is True


def test_can_renew_due_boundary():
    assert m.can_renew(book(), date(2024, 1, 22)) is True
    assert m.can_renew(book(), date(2024, 1, 23)) is False


def test_can_renew_holds_and_returned():
    today = date(2024, 1, 10)
    assert m.can_renew(book("b1"), today, ["b1"]) is False
    assert m.can_renew(book("b1"), today, ["x9"]) is True
    assert m.can_renew(book(returned=date(2024, 1, 5)), today) is False
    assert m.can_renew(book("b1"), today) is True
    assert m.can_renew(book("b1"), today) is True


def test_first_overdue():
    today = date(2024, 2, 1)
    in_grace = m.Loan("g", "book", date(2024, 1, 10))
    returned = book("r", returned=date(2024, 1, 30))
    late1 = book("l1")
    late2 = book("l2", kind="dvd")
    assert m.first_overdue([in_grace, returned, late1, late2], today) is late1
    assert m.first_overdue([in_grace, returned], today) is None
    assert m.first_overdue([], today) is None
    assert m.first_overdue([late2], today) is late2


def test_can_borrow_item_limit():
    today = date(2024, 1, 5)
    assert m.can_borrow([book(str(i)) for i in range(4)], today) is True
    assert m.can_borrow([book(str(i)) for i in range(5)], today) is False
    assert m.can_borrow([book(str(i)) for i in range(3)], today, limit=3) is False
    returned = [book(str(i), returned=date(2024, 1, 2)) for i in range(6)]
    assert m.can_borrow(returned, today) is True
    assert m.can_borrow([], today) is True


def test_can_borrow_fine_threshold():
    assert m.can_borrow([book()], date(2024, 2, 10)) is True  # 19 days -> 475
    assert m.can_borrow([book()], date(2024, 2, 11)) is False  # 20 days -> 500
    assert m.can_borrow([book(kind="dvd")], date(2024, 1, 12)) is True  # 4 days -> 400


def test_due_soon_window():
    today = date(2024, 1, 19)
    loans = [
        book("three"),                                    # due 22nd -> 3 days
        book("zero", kind="magazine", renewals=0),        # due 15th -> -4 days
        m.Loan("today", "dvd", date(2024, 1, 12)),        # due 19th -> 0 days
        m.Loan("four", "dvd", date(2024, 1, 16)),         # due 23rd -> 4 days
        book("back", returned=date(2024, 1, 18)),
        m.Loan("past", "dvd", date(2024, 1, 11)),         # due 18th -> -1
    ]
    assert m.due_soon(loans, today) == ["three", "today"]
    assert m.due_soon(loans, today, within_days=4) == ["three", "today", "four"]
    assert m.due_soon([], today) == []


def test_hold_queue_positions():
    queue = m.HoldQueue("b1")
    assert queue.place("ann") == 1
    assert queue.place("bob") == 2
    assert queue.place("cid") == 3
    assert queue.place("bob") == 2
    assert queue.patrons == ["ann", "bob", "cid"]
    assert queue.place("ann") == 1


def test_hold_queue_fifo():
    queue = m.HoldQueue("b1", ["ann", "bob"])
    assert queue.next_patron() == "ann"
    assert queue.next_patron() == "bob"
    assert queue.next_patron() is None
    assert queue.item_id == "b1"


def test_hold_queue_default_not_shared():
    first = m.HoldQueue("a")
    first.place("ann")
    second = m.HoldQueue("b")
    assert second.patrons == []
    assert second.place("zed") == 1


def test_waiting_behind():
    queue = m.HoldQueue("b1", ["ann", "bob", "cid", "dan"])
    assert queue.waiting_behind("ann") == ["bob", "cid", "dan"]
    assert queue.waiting_behind("cid") == ["dan"]
    assert queue.waiting_behind("dan") == []
