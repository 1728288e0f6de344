import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from datetime import date, datetime, timedelta

os.environ.setdefault("CLUB_WEBHOOK_SECRET", "test-webhook-secret")
os.environ.setdefault("CLUB_GUEST_PASS_SECRET", "test-guest-pass-secret")

import pytest

import module as m

ANN = m.Actor(2)
BEN = m.Actor(3)
TRAINER = m.Actor(7)
OTHER_TRAINER = m.Actor(8)
MANAGER = m.Actor(1, is_manager=True)
CLASS_START = datetime(2024, 5, 14, 18, 0)


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT, emergency_contact TEXT,"
        " plan_id INT, status TEXT, balance_cents INT, frozen_until TEXT);"
        "CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT, monthly_cents INT, joining_fee_cents INT);"
        "CREATE TABLE classes (id INTEGER PRIMARY KEY, trainer_id INT, capacity INT, starts_at TEXT);"
        "CREATE TABLE bookings (id INTEGER PRIMARY KEY, class_id INT, member_id INT, status TEXT);"
        "CREATE TABLE payments (id INTEGER PRIMARY KEY, member_id INT, amount_cents INT, status TEXT, due_on TEXT);"
    )
    db.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (2, "Ann", "ann@example.org", "0711", "Tom", 1, "active", 0, None),
        (3, "Ben", "ben@example.org", "0722", "Sue", 2, "active", -1500, None),
        (4, "Cat", "cat@example.org", "0733", "", 1, "active", 0, None),
    ])
    db.executemany("INSERT INTO plans VALUES (?, ?, ?, ?)", [(1, "Full", 4500, 2500), (2, "Off-peak", 3200, 0)])
    db.executemany("INSERT INTO classes VALUES (?, ?, ?, ?)", [
        (1, 7, 2, CLASS_START.isoformat()), (2, 8, 10, "2024-05-15T07:00:00")])
    db.executemany("INSERT INTO bookings VALUES (?, ?, ?, ?)", [
        (1, 1, 2, "booked"), (2, 1, 3, "booked"), (3, 1, 4, "waitlisted"), (4, 2, 3, "booked")])
    db.executemany("INSERT INTO payments VALUES (?, ?, ?, ?, ?)", [
        (1, 2, 4500, "paid", "2024-05-01"), (2, 2, 800, "pending", "2024-05-20"), (3, 3, 3200, "pending", "2024-05-01"),
        (4, 2, 4500, "paid", "2024-04-01"), (5, 2, 400, "pending", "2024-05-09")])
    yield db
    db.close()


def booking_status(db, booking_id):
    return db.execute("SELECT status FROM bookings WHERE id = ?", (booking_id,)).fetchone()[0]


def test_first_invoice_prorates_the_starting_month():
    assert m.first_invoice(4500, 2500, date(2024, 4, 1)) == {"joining_fee": 2500, "first_month": 4500, "total": 7000}
    assert m.first_invoice(4500, 2500, date(2024, 4, 16)) == {"joining_fee": 2500, "first_month": 2250, "total": 4750}
    assert m.first_invoice(2900, 0, date(2024, 2, 29))["first_month"] == 100
    assert m.first_invoice(3100, 0, date(2023, 1, 31))["first_month"] == 100
    assert m.first_invoice(3100, 1000, date(2023, 3, 2))["total"] == 4000
    assert m.first_invoice(4500, 0, date(2024, 5, 10))["first_month"] == 3194


def test_first_invoice_of_an_off_peak_plan():
    assert m.first_invoice(4000, 1000, date(2024, 6, 1), off_peak=True) == {"joining_fee": 1000, "first_month": 3000, "total": 4000}
    assert m.first_invoice(4000, 1000, date(2024, 6, 21), off_peak=True)["first_month"] == 1000


def test_off_peak_hours():
    friday = datetime(2024, 5, 17)
    assert m.is_off_peak(friday.replace(hour=10))
    assert m.is_off_peak(friday.replace(hour=15, minute=59))
    assert not m.is_off_peak(friday.replace(hour=16))
    assert not m.is_off_peak(friday.replace(hour=9, minute=59))
    saturday = datetime(2024, 5, 18)
    assert m.is_off_peak(saturday.replace(hour=13))
    assert not m.is_off_peak(saturday.replace(hour=12, minute=59))
    assert m.is_off_peak(datetime(2024, 5, 19, 20, 0))
    assert not m.is_off_peak(datetime(2024, 5, 19, 11, 0))


def test_no_show_fee():
    assert [m.no_show_fee(n) for n in range(8)] == [0, 0, 400, 800, 1200, 1600, 2000, 2000]


def test_attendance_streak():
    today = date(2024, 5, 16)  # a Thursday
    weeks = [date(2024, 5, 13), date(2024, 5, 6), date(2024, 4, 29), date(2024, 4, 22)]
    visits = [monday + timedelta(days=d) for monday in weeks[1:] for d in (0, 3)]
    assert m.attendance_streak(visits, today) == 3
    assert m.attendance_streak(visits + [date(2024, 5, 14)], today) == 3
    assert m.attendance_streak(visits + [date(2024, 5, 14), date(2024, 5, 16)], today) == 4
    assert m.attendance_streak(visits + [date(2024, 5, 14), date(2024, 5, 14)], today) == 3
    gap = [v for v in visits if v.isocalendar().week != date(2024, 4, 29).isocalendar().week]
    assert m.attendance_streak(gap, today) == 1
    assert m.attendance_streak([date(2024, 5, 12), date(2024, 5, 11)], date(2024, 5, 13)) == 1
    assert m.attendance_streak([], today) == 0


def test_book_class_until_full_then_waitlist(conn):
    assert m.book_class(conn, BEN, 2)["status"] == "booked"
    conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = 2")
    first = m.book_class(conn, m.Actor(5), 1)
    assert first["status"] == "booked"
    assert booking_status(conn, first["id"]) == "booked"
    second = m.book_class(conn, m.Actor(6), 1)
    assert second == {"id": first["id"] + 1, "status": "waitlisted"}
    with pytest.raises(LookupError):
        m.book_class(conn, BEN, 99)


def test_promote_waitlist(conn):
    assert m.promote_waitlist(conn, 1) is None
    conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = 1")
    conn.execute("INSERT INTO bookings VALUES (5, 1, 5, 'waitlisted')")
    assert m.promote_waitlist(conn, 1) == 3
    assert booking_status(conn, 3) == "booked" and booking_status(conn, 5) == "waitlisted"
    assert m.promote_waitlist(conn, 2) is None


def test_cancel_booking_in_time_promotes_the_waitlist(conn, caplog):
    with caplog.at_level(logging.INFO, logger="club.audit"):
        assert m.cancel_booking(conn, ANN, 1, CLASS_START - timedelta(days=1), reason="ill") is False
    assert booking_status(conn, 1) == "cancelled"
    assert booking_status(conn, 3) == "booked"
    assert caplog.messages == ["member 2 cancelled booking 1: 'ill'"]


def test_cancel_booking_late_counts_as_no_show(conn):
    assert m.cancel_booking(conn, ANN, 1, CLASS_START - timedelta(minutes=90)) is True
    assert booking_status(conn, 1) == "late_cancel"
    assert booking_status(conn, 3) == "booked"
    assert m.cancel_booking(conn, BEN, 2, CLASS_START - m.LATE_CANCEL) is False
    assert booking_status(conn, 2) == "cancelled"


def test_cancel_waitlisted_booking(conn):
    assert m.cancel_booking(conn, m.Actor(4), 3, CLASS_START - timedelta(minutes=5)) is False
    assert booking_status(conn, 3) == "cancelled"
    assert [booking_status(conn, b) for b in (1, 2)] == ["booked", "booked"]


def test_cancel_booking_refusals(conn):
    with pytest.raises(LookupError):
        m.cancel_booking(conn, ANN, 99, CLASS_START)
    with pytest.raises(PermissionError):
        m.cancel_booking(conn, BEN, 1, CLASS_START - timedelta(days=1))
    assert booking_status(conn, 1) == "booked"
    m.cancel_booking(conn, ANN, 1, CLASS_START - timedelta(days=1))
    with pytest.raises(ValueError):
        m.cancel_booking(conn, ANN, 1, CLASS_START - timedelta(days=1))


def test_member_bookings(conn):
    assert m.member_bookings(conn, BEN, "booked") == [(2, 1, "booked"), (4, 2, "booked")]
    assert m.member_bookings(conn, ANN, "booked") == [(1, 1, "booked")]
    assert m.member_bookings(conn, ANN, "waitlisted") == []


def test_class_roster(conn):
    assert m.class_roster(conn, TRAINER, 1) == [("Ann", "booked"), ("Ben", "booked"), ("Cat", "waitlisted")]
    conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = 1")
    assert m.class_roster(conn, TRAINER, 1) == [("Ben", "booked"), ("Cat", "waitlisted")]
    with pytest.raises(PermissionError):
        m.class_roster(conn, OTHER_TRAINER, 1)
    with pytest.raises(PermissionError):
        m.class_roster(conn, TRAINER, 99)


def test_mark_attendance(conn):
    assert m.mark_attendance(conn, TRAINER, 1, [2]) == 1
    assert [booking_status(conn, b) for b in (1, 2, 3, 4)] == ["attended", "no_show", "waitlisted", "booked"]
    assert m.mark_attendance(conn, OTHER_TRAINER, 2, []) == 1
    with pytest.raises(PermissionError):
        m.mark_attendance(conn, OTHER_TRAINER, 1, [2, 3])
    assert booking_status(conn, 2) == "no_show"


def test_member_payments(conn):
    assert m.member_payments(conn, ANN, "2024-05") == [(1, 4500, "paid", "2024-05-01"), (5, 400, "pending", "2024-05-09"),
                                                       (2, 800, "pending", "2024-05-20")]
    assert m.member_payments(conn, ANN, "2024-04") == [(4, 4500, "paid", "2024-04-01")]
    assert m.member_payments(conn, BEN, "2024-04") == []
    with pytest.raises(ValueError):
        m.member_payments(conn, ANN, "2024-%")


def test_cancel_payment(conn):
    assert m.cancel_payment(conn, ANN, 2) is True
    assert m.cancel_payment(conn, ANN, 2) is False
    assert m.cancel_payment(conn, ANN, 1) is False
    assert m.cancel_payment(conn, ANN, 3) is False
    statuses = dict(conn.execute("SELECT id, status FROM payments").fetchall())
    assert statuses == {1: "paid", 2: "cancelled", 3: "pending", 4: "paid", 5: "pending"}


def test_update_profile_takes_allowed_fields(conn):
    member = m.update_profile(conn, ANN, {"phone": "0799", "emergency_contact": "Max"})
    assert member["phone"] == "0799" and member["balance_cents"] == 0
    row = conn.execute("SELECT name, email, phone, emergency_contact, plan_id, status, balance_cents FROM members WHERE id = 2").fetchone()
    assert row == ("Ann", "ann@example.org", "0799", "Max", 1, "active", 0)
    assert conn.execute("SELECT phone FROM members WHERE id = 3").fetchone() == ("0722",)


def test_set_plan_price(conn):
    m.set_plan_price(conn, MANAGER, 2, 3500, 0)
    assert conn.execute("SELECT monthly_cents, joining_fee_cents FROM plans WHERE id = 2").fetchone() == (3500, 0)
    assert conn.execute("SELECT monthly_cents FROM plans WHERE id = 1").fetchone() == (4500,)
    with pytest.raises(ValueError):
        m.set_plan_price(conn, MANAGER, 2, 0, 0)
    with pytest.raises(ValueError):
        m.set_plan_price(conn, MANAGER, 2, 3500, -1)
    with pytest.raises(PermissionError):
        m.set_plan_price(conn, ANN, 1, 100, 0)


def test_freeze_membership(conn):
    assert m.freeze_membership(conn, MANAGER, 3, date(2024, 5, 10), 4) == date(2024, 6, 7)
    assert conn.execute("SELECT status, frozen_until FROM members WHERE id = 3").fetchone() == ("frozen", "2024-06-07")
    assert m.freeze_membership(conn, MANAGER, 2, date(2024, 1, 1), 1) == date(2024, 1, 8)
    assert m.freeze_membership(conn, MANAGER, 2, date(2024, 1, 1), 12) == date(2024, 3, 25)
    for weeks in (0, 13):
        with pytest.raises(ValueError):
            m.freeze_membership(conn, MANAGER, 2, date(2024, 1, 1), weeks)
    with pytest.raises(PermissionError):
        m.freeze_membership(conn, BEN, 4, date(2024, 1, 1), 2)


def test_sign_is_hmac_sha256():
    assert m.sign("abc", "key") == hmac.new(b"key", b"abc", hashlib.sha256).hexdigest()
    assert m.sign("abc", "key") != m.sign("abd", "key")


def notice(payment_id, outcome, created_at):
    body = json.dumps({"payment_id": payment_id, "outcome": outcome, "created_at": created_at})
    return body, m.sign(body, m.WEBHOOK_SECRET)


def test_payment_webhook_settles_pending_payments(conn):
    assert m.payment_webhook(conn, *notice(2, "succeeded", 1000.0), now=1000.0 + m.WEBHOOK_TOLERANCE) is True
    assert m.payment_webhook(conn, *notice(3, "failed", 1000.0), now=1010.0) is True
    assert m.payment_webhook(conn, *notice(1, "failed", 1000.0), now=1010.0) is False
    statuses = dict(conn.execute("SELECT id, status FROM payments").fetchall())
    assert statuses == {1: "paid", 2: "paid", 3: "failed", 4: "paid", 5: "pending"}


def test_payment_webhook_refusals(conn):
    body, signature = notice(5, "succeeded", 1000.0)
    with pytest.raises(ValueError):
        m.payment_webhook(conn, body, m.sign(body, m.GUEST_PASS_SECRET), now=1000.0)
    with pytest.raises(ValueError):
        m.payment_webhook(conn, body, signature, now=1001.0 + m.WEBHOOK_TOLERANCE)
    with pytest.raises(KeyError):
        m.payment_webhook(conn, *notice(5, "refunded", 1000.0), now=1000.0)
    assert conn.execute("SELECT status FROM payments WHERE id = 5").fetchone() == ("pending",)


def test_guest_pass(caplog):
    token = m.issue_guest_pass(ANN, "Zoe", now=5000.0)
    with caplog.at_level(logging.INFO, logger="club.audit"):
        claims = m.admit_guest(token, now=5000.0 + m.GUEST_PASS_TTL - 1)
    assert claims == {"host": 2, "guest": "Zoe", "iat": 5000.0, "exp": 5000.0 + m.GUEST_PASS_TTL}
    assert caplog.messages == ["guest 'Zoe' admitted on the pass of member 2"]
    with pytest.raises(ValueError):
        m.admit_guest(token, now=5000.0 + m.GUEST_PASS_TTL)


def test_guest_pass_cannot_be_altered():
    token = m.issue_guest_pass(ANN, "Zoe", now=5000.0)
    payload, _, mac = token.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload))
    longer = base64.urlsafe_b64encode(json.dumps({**claims, "exp": 10 ** 10}).encode()).decode()
    with pytest.raises(ValueError):
        m.admit_guest(f"{longer}.{mac}", now=5000.0)
    with pytest.raises(ValueError):
        m.admit_guest(f"{payload}.{m.sign(payload, m.WEBHOOK_SECRET)}", now=5000.0)


@pytest.fixture
def downloads(monkeypatch):
    fetched = []

    def fake_download(url):
        fetched.append(url)
        return b"\xff\xd8\xff" + b"\0" * (m.MAX_PHOTO_BYTES - 3 if "full" in url else 10)

    monkeypatch.setattr(m, "_download", fake_download)
    return fetched


def test_fetch_trainer_photo(downloads):
    assert m.fetch_trainer_photo("https://cdn.ironhall.example/t/7.jpg").startswith(b"\xff\xd8\xff")
    assert len(m.fetch_trainer_photo("https://photos.ironhall.example/full.jpg")) == m.MAX_PHOTO_BYTES
    assert downloads == ["https://cdn.ironhall.example/t/7.jpg", "https://photos.ironhall.example/full.jpg"]


def test_fetch_trainer_photo_refusals(downloads, monkeypatch):
    for url in ("http://cdn.ironhall.example/t/7.jpg", "https://images.example.com/7.jpg"):
        with pytest.raises(ValueError):
            m.fetch_trainer_photo(url)
    assert downloads == []
    monkeypatch.setattr(m, "_download", lambda url: b"\0" * (m.MAX_PHOTO_BYTES + 1))
    with pytest.raises(ValueError):
        m.fetch_trainer_photo("https://cdn.ironhall.example/big.jpg")
