import base64
import hashlib
import hmac
import json
import os
import sqlite3
from datetime import date, datetime, timezone

os.environ.setdefault("DONATIONS_WEBHOOK_SECRET", "test-webhook-secret")
os.environ.setdefault("DONATIONS_RECEIPT_SECRET", "test-receipt-secret")

import pytest

import module as m

DONOR = m.Account(2)
OTHER = m.Account(3)
ADMIN = m.Account(1, is_admin=True)
APRIL_6 = datetime(2024, 4, 6, 12, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, display_name TEXT, email TEXT, contact_ok INT, gift_aid INT, is_admin INT);"
        "CREATE TABLE pledges (id INTEGER PRIMARY KEY, account_id INT, campaign_id INT, amount_cents INT, day INT,"
        " match_percent INT, status TEXT);"
        "CREATE TABLE donations (id INTEGER PRIMARY KEY, account_id INT, campaign_id INT, pledge_id INT, amount_cents INT,"
        " status TEXT, gift_aid INT, paid_on TEXT, tax_year INT);"
        "CREATE TABLE campaigns (id INTEGER PRIMARY KEY, title TEXT, goal_cents INT, raised_cents INT);"
    )
    db.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
                   [(1, "Admin", "admin@give.example", 0, 0, 1), (2, "Ann", "ann@example.org", 1, 1, 0),
                    (3, "Bob", "bob@example.org", 0, 0, 0)])
    db.executemany("INSERT INTO pledges VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(1, 2, 10, 1500, 15, 0, "active"), (2, 3, 10, 500, 1, 50, "active")])
    db.executemany("INSERT INTO donations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (1, 2, 10, 1, 1000, "paid", 1, "2024-05-15", 2024),
        (2, 2, 10, 1, 500, "refunded", 1, "2024-06-15", 2024),
        (3, 2, 10, None, 2000, "paid", 0, "2024-07-01", 2024),
        (4, 2, 10, 1, 300, "pending", 1, None, None),
        (5, 2, 10, 1, 700, "paid", 1, "2025-03-15", 2024),
        (6, 2, 10, 1, 900, "paid", 1, "2024-03-15", 2023),
        (7, 3, 10, 2, 500, "paid", 0, "2024-05-01", 2024),
        (8, 3, 11, None, 4000, "paid", 0, "2024-05-02", 2024),
        (9, 3, 10, 2, 800, "pending", 0, None, None),
    ])
    db.executemany("INSERT INTO campaigns VALUES (?, ?, ?, ?)", [(10, "Clean water", 100000, 5100), (11, "Library", 5000, 4000)])
    yield db
    db.close()


def status_of(db, donation_id):
    return db.execute("SELECT status FROM donations WHERE id = ?", (donation_id,)).fetchone()[0]


def raised(db, campaign_id):
    return db.execute("SELECT raised_cents FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()[0]


def test_gift_aid_is_a_quarter_of_declared_gifts():
    assert m.gift_aid_cents(1000, True) == 250
    assert m.gift_aid_cents(101, True) == 25
    assert m.gift_aid_cents(3, True) == 0
    assert m.gift_aid_cents(1000, False) == 0
    assert m.gift_aid_cents(0, True) == 0
    assert m.gift_aid_cents(-400, True) == 0


def test_matching_gifts_from_the_minimum_within_the_cap():
    assert m.matched_cents(500, 100, 0, 10_000) == 500
    assert m.matched_cents(499, 100, 0, 10_000) == 0
    assert m.matched_cents(1001, 50, 0, 10_000) == 500
    assert m.matched_cents(1000, 100, 9_800, 10_000) == 200
    assert m.matched_cents(1000, 100, 10_000, 10_000) == 0
    assert m.matched_cents(1000, 100, 12_000, 10_000) == 0
    assert m.matched_cents(2000, 200, 1_000, 100_000) == 4000


def test_campaign_progress_in_whole_percent_capped_at_100():
    assert m.campaign_progress(0, 1000) == 0
    assert m.campaign_progress(250, 1000) == 25
    assert m.campaign_progress(1, 3) == 33
    assert m.campaign_progress(999, 1000) == 99
    assert m.campaign_progress(1000, 1000) == 100
    assert m.campaign_progress(5000, 1000) == 100
    assert m.campaign_progress(5, 0) == 0
    assert m.campaign_progress(5, -10) == 0


def test_tax_year_starts_on_6_april():
    assert m.tax_year(date(2024, 4, 6)) == 2024
    assert m.tax_year(date(2024, 4, 5)) == 2023
    assert m.tax_year(date(2024, 1, 1)) == 2023
    assert m.tax_year(date(2024, 3, 31)) == 2023
    assert m.tax_year(date(2024, 5, 1)) == 2024
    assert m.tax_year(date(2024, 12, 31)) == 2024


def test_pledge_schedule_clamps_to_month_end():
    assert m.pledge_schedule(date(2024, 1, 15), 31, 3) == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]
    assert m.pledge_schedule(date(2023, 2, 1), 30, 1) == [date(2023, 2, 28)]
    assert m.pledge_schedule(date(2024, 1, 31), 31, 1) == [date(2024, 1, 31)]
    assert m.pledge_schedule(date(2024, 3, 20), 10, 2) == [date(2024, 4, 10), date(2024, 5, 10)]
    assert m.pledge_schedule(date(2024, 6, 1), 1, 0) == []


def test_pledge_schedule_crosses_the_year():
    assert m.pledge_schedule(date(2024, 11, 20), 10, 3) == [date(2024, 12, 10), date(2025, 1, 10), date(2025, 2, 10)]
    assert len(m.pledge_schedule(date(2024, 1, 1), 1, 25)) == 25
    assert m.pledge_schedule(date(2024, 1, 1), 1, 25)[-1] == date(2026, 1, 1)


def test_load_and_get_pledge(conn):
    pledge = {"id": 1, "account_id": 2, "campaign_id": 10, "amount_cents": 1500, "day": 15, "match_percent": 0, "status": "active"}
    assert m.load_pledge(conn, 1) == pledge
    assert m.load_pledge(conn, 99) is None
    assert m.get_pledge(conn, DONOR, 1) == pledge
    assert m.get_pledge(conn, DONOR, 2) is None
    assert m.get_pledge(conn, OTHER, 2)["match_percent"] == 50


def test_pledge_history(conn):
    assert m.pledge_history(conn, DONOR, 1) == [(1, 1000, "paid", "2024-05-15"), (2, 500, "refunded", "2024-06-15"),
                                                (4, 300, "pending", None), (5, 700, "paid", "2025-03-15"),
                                                (6, 900, "paid", "2024-03-15")]
    assert m.pledge_history(conn, DONOR, 2) == []


def test_change_pledge_takes_amount_and_day(conn):
    pledge = m.change_pledge(conn, DONOR, 1, {"amount_cents": 2500, "day": 31})
    assert (pledge["amount_cents"], pledge["day"]) == (2500, 31)
    row = conn.execute("SELECT amount_cents, day, match_percent, status FROM pledges WHERE id = 1").fetchone()
    assert row == (2500, 31, 0, "active")
    assert m.change_pledge(conn, DONOR, 1, {"day": 1})["amount_cents"] == 2500


def test_change_pledge_refusals(conn):
    with pytest.raises(LookupError):
        m.change_pledge(conn, DONOR, 99, {"day": 2})
    with pytest.raises(PermissionError):
        m.change_pledge(conn, DONOR, 2, {"day": 2})
    for bad in ({"day": 0}, {"day": 32}, {"amount_cents": 99}):
        with pytest.raises(ValueError):
            m.change_pledge(conn, DONOR, 1, bad)
    assert m.change_pledge(conn, DONOR, 1, {"amount_cents": 100})["amount_cents"] == 100


def test_cancel_pledge(conn):
    with pytest.raises(PermissionError):
        m.cancel_pledge(conn, OTHER, 1)
    with pytest.raises(LookupError):
        m.cancel_pledge(conn, OTHER, 99)
    m.cancel_pledge(conn, DONOR, 1)
    assert conn.execute("SELECT status FROM pledges ORDER BY id").fetchall() == [("cancelled",), ("active",)]


def test_annual_receipt_counts_paid_gifts_of_the_tax_year(conn):
    assert m.annual_receipt(conn, DONOR, 2024) == {"account_id": 2, "year": 2024, "gifts": 3, "total_cents": 3700,
                                                   "gift_aid_cents": 425}
    assert m.annual_receipt(conn, DONOR, 2023) == {"account_id": 2, "year": 2023, "gifts": 1, "total_cents": 900,
                                                   "gift_aid_cents": 225}
    assert m.annual_receipt(conn, OTHER, 2024)["total_cents"] == 4500
    assert m.annual_receipt(conn, OTHER, 2022) == {"account_id": 3, "year": 2022, "gifts": 0, "total_cents": 0,
                                                   "gift_aid_cents": 0}


def test_receipt_links(conn):
    token = m.receipt_token(DONOR, 2024, now=1000.0)
    body, _, mac = token.partition(".")
    assert json.loads(base64.urlsafe_b64decode(body)) == {"sub": 2, "year": 2024, "iat": 1000.0,
                                                         "exp": 1000.0 + m.RECEIPT_LINK_MAX_AGE}
    assert mac == hmac.new(b"test-receipt-secret", body.encode(), hashlib.sha256).hexdigest()
    receipt = m.open_receipt(conn, token, now=1000.0 + m.RECEIPT_LINK_MAX_AGE - 1)
    assert receipt["total_cents"] == 3700 and receipt["account_id"] == 2
    with pytest.raises(ValueError):
        m.open_receipt(conn, token, now=1000.0 + m.RECEIPT_LINK_MAX_AGE)
    with pytest.raises(ValueError):
        m.open_receipt(conn, token[:-1] + ("0" if token[-1] != "0" else "1"), now=1000.0)
    with pytest.raises(ValueError):
        m.open_receipt(conn, body + "." + m.sign(body, m.WEBHOOK_SECRET), now=1000.0)


def _event(donation_id, created_at=APRIL_6, kind="payment.succeeded"):
    body = json.dumps({"type": kind, "donation_id": donation_id, "created_at": created_at})
    return body, m.sign(body, m.WEBHOOK_SECRET)


def test_payment_event_marks_donation_paid(conn):
    body, signature = _event(4)
    assert m.handle_payment_event(conn, body, signature, now=APRIL_6 + 30) == 4
    row = conn.execute("SELECT status, paid_on, tax_year FROM donations WHERE id = 4").fetchone()
    assert row == ("paid", "2024-04-06", 2024)
    assert raised(conn, 10) == 5400
    assert m.handle_payment_event(conn, body, signature, now=APRIL_6 + 60) is None
    assert raised(conn, 10) == 5400


def test_payment_event_tax_year_before_april_6(conn):
    created = datetime(2024, 4, 5, 23, 0, tzinfo=timezone.utc).timestamp()
    body, signature = _event(9, created_at=created)
    assert m.handle_payment_event(conn, body, signature, now=created + m.WEBHOOK_TOLERANCE) == 9
    assert conn.execute("SELECT paid_on, tax_year FROM donations WHERE id = 9").fetchone() == ("2024-04-05", 2023)


def test_payment_event_refusals(conn):
    body, signature = _event(4)
    with pytest.raises(ValueError):
        m.handle_payment_event(conn, body, m.sign(body, m.RECEIPT_SECRET), now=APRIL_6)
    with pytest.raises(ValueError):
        m.handle_payment_event(conn, body, signature, now=APRIL_6 + m.WEBHOOK_TOLERANCE + 1)
    other, other_signature = _event(4, kind="payment.failed")
    assert m.handle_payment_event(conn, other, other_signature, now=APRIL_6) is None
    unknown, unknown_signature = _event(99)
    assert m.handle_payment_event(conn, unknown, unknown_signature, now=APRIL_6) is None
    assert status_of(conn, 4) == "pending" and raised(conn, 10) == 5100


def test_refund_donation(conn):
    assert m.refund_donation(conn, ADMIN, 3) == 2000
    assert status_of(conn, 3) == "refunded"
    assert raised(conn, 10) == 3100
    with pytest.raises(ValueError):
        m.refund_donation(conn, ADMIN, 3)
    with pytest.raises(ValueError):
        m.refund_donation(conn, ADMIN, 4)
    with pytest.raises(ValueError):
        m.refund_donation(conn, ADMIN, 99)
    with pytest.raises(PermissionError):
        m.refund_donation(conn, DONOR, 1)
    assert status_of(conn, 1) == "paid"


def test_export_donors(conn):
    assert m.export_donors(conn, ADMIN, 10) == [(2, "Ann", "ann@example.org", 4600), (3, "Bob", None, 500)]
    assert m.export_donors(conn, ADMIN, 11) == [(3, "Bob", None, 4000)]
    with pytest.raises(PermissionError):
        m.export_donors(conn, DONOR, 10)


def test_update_profile_takes_profile_fields(conn):
    profile = m.update_profile(conn, DONOR, {"display_name": "Ann B", "contact_ok": 0, "gift_aid": 0})
    assert profile == {"id": 2, "display_name": "Ann B", "email": "ann@example.org", "contact_ok": 0, "gift_aid": 0, "is_admin": 0}
    assert conn.execute("SELECT * FROM accounts WHERE id = 2").fetchone() == (2, "Ann B", "ann@example.org", 0, 0, 0)
    assert conn.execute("SELECT display_name FROM accounts WHERE id = 3").fetchone() == ("Bob",)
    m.update_profile(conn, OTHER, {"email": "bob@example.net"})
    assert conn.execute("SELECT email FROM accounts WHERE id = 3").fetchone() == ("bob@example.net",)


class FakeOpener:
    def __init__(self, data):
        self.data, self.urls = data, []

    def open(self, url, timeout):
        self.urls.append(url)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, limit):
        return self.data[:limit]


def test_fetch_campaign_image(monkeypatch):
    opener = FakeOpener(b"\x89PNG\r\n\x1a\n" + b"x" * 10)
    monkeypatch.setattr(m, "_OPENER", opener)
    assert m.fetch_campaign_image("https://cdn.give.example/c/10.png").startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        m.fetch_campaign_image("http://169.254.169.254/latest/meta-data/")
    assert opener.urls == ["https://cdn.give.example/c/10.png"]
    opener.data = b"<html>not an image</html>"
    with pytest.raises(ValueError):
        m.fetch_campaign_image("https://images.give.example/c/10.png")
    opener.data = b"\xff\xd8\xff\xe0JFIF"
    assert m.fetch_campaign_image("https://images.give.example/c/10.jpg") == b"\xff\xd8\xff\xe0JFIF"


def test_after_donation_url():
    assert m.after_donation_url(None) == "/thank-you"
    assert m.after_donation_url("") == "/thank-you"
    assert m.after_donation_url("/campaigns/10") == "/campaigns/10"
    assert m.after_donation_url("https://give.example/campaigns/10") == "https://give.example/campaigns/10"
    assert m.after_donation_url("https://evil.example/") == "/thank-you"
    assert m.after_donation_url("//evil.example/") == "/thank-you"
    assert m.after_donation_url("javascript:alert(1)") == "/thank-you"
    assert m.after_donation_url("/\\evil.example") == "/thank-you"
