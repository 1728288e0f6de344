import hashlib
import os
import random
import sqlite3
from types import SimpleNamespace

import pytest

import module as m

SALT = b"salt-0123456789"
NOW = 1_700_000_000.0
REAL_PBKDF2 = hashlib.pbkdf2_hmac
CALLS = []


def fast_pbkdf2(name, password, salt, rounds):
    """Stand-in for the 310k-round KDF so the suite stays fast; records its arguments."""
    CALLS.append((name, password, salt, rounds))
    return REAL_PBKDF2(name, password, salt, 1)


@pytest.fixture
def db(monkeypatch):
    CALLS.clear()
    monkeypatch.setattr(m.hashlib, "pbkdf2_hmac", fast_pbkdf2)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE accounts (id INTEGER, email TEXT, salt BLOB, digest BLOB)")
    conn.execute("CREATE TABLE events (id INTEGER, title TEXT, capacity INTEGER)")
    conn.execute("CREATE TABLE tickets (code TEXT, account_id INTEGER, event_id INTEGER, qty INTEGER, "
                 "paid INTEGER, held_until REAL)")
    conn.execute("INSERT INTO accounts VALUES (7, 'ann@example.com', ?, ?)", (SALT, REAL_PBKDF2("sha256", b"pw-ann", SALT, 1)))
    conn.execute("INSERT INTO accounts VALUES (8, 'bob@example.com', ?, ?)", (SALT, REAL_PBKDF2("sha256", b"pw-bob", SALT, 1)))
    conn.executemany("INSERT INTO events VALUES (?, ?, ?)", [(1, "Jazz night", 10), (2, "Opera", 3)])
    yield conn
    conn.close()


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a.pdf") == os.path.join(root, "a.pdf")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "t"), "../a.pdf")


def test_is_local_url():
    assert m.is_local_url("/events/12?x=1")
    for url in ("https://evil.example", "//evil.example/x", "/\\evil.example", "events", ""):
        assert not m.is_local_url(url), url


def test_hash_password_uses_pbkdf2(db):
    assert m.hash_password("pw", SALT) == REAL_PBKDF2("sha256", b"pw", SALT, 1)
    assert CALLS == [("sha256", b"pw", SALT, 310_000)]


def test_login(db):
    assert m.login(db, "ann@example.com", "pw-ann") == 7
    assert m.login(db, "bob@example.com", "pw-bob") == 8
    assert m.login(db, "ann@example.com", "pw-bob") is None
    assert m.login(db, "nobody@example.com", "pw-ann") is None


def test_seats_left_counts_paid_and_live_holds(db):
    assert m.seats_left(db, 1, NOW) == 10
    db.execute("INSERT INTO tickets VALUES ('a', 7, 1, 2, 1, 0)")
    db.execute("INSERT INTO tickets VALUES ('b', 7, 1, 3, 0, ?)", (NOW + 1,))
    db.execute("INSERT INTO tickets VALUES ('c', 8, 1, 4, 0, ?)", (NOW,))
    db.execute("INSERT INTO tickets VALUES ('d', 8, 2, 1, 1, 0)")
    assert m.seats_left(db, 1, NOW) == 5
    assert m.seats_left(db, 1, NOW - 1) == 1
    assert m.seats_left(db, 2, NOW) == 2


def test_hold_seats(db):
    code = m.hold_seats(db, 7, 2, 3, NOW)
    assert len(code) == 16 and code != m.hold_seats(db, 8, 1, 1, NOW)
    row = db.execute("SELECT account_id, event_id, qty, paid, held_until FROM tickets WHERE code = ?", (code,)).fetchone()
    assert row == (7, 2, 3, 0, NOW + 600)
    with pytest.raises(ValueError):
        m.hold_seats(db, 8, 2, 1, NOW)
    assert m.hold_seats(db, 8, 2, 1, NOW + 600) != code


def test_hold_seats_limits(db):
    for qty in (0, -1, 9):
        with pytest.raises(ValueError):
            m.hold_seats(db, 7, 1, qty, NOW)
    m.hold_seats(db, 7, 1, 8, NOW)
    m.hold_seats(db, 7, 1, 2, NOW)
    with pytest.raises(ValueError):
        m.hold_seats(db, 7, 1, 1, NOW)


def test_price_for():
    assert m.price_for(1, 1500) == 1500
    assert m.price_for(4, 1500) == 6000
    assert m.price_for(5, 1500) == 6000
    assert m.price_for(6, 1000) == 5000
    assert m.price_for(10, 100) == 800


def test_checkout_redirect():
    assert m.checkout_redirect(None) == "/my/tickets"
    assert m.checkout_redirect("") == "/my/tickets"
    assert m.checkout_redirect("/events/3") == "/events/3"
    assert m.checkout_redirect("https://evil.example") == "/"
    assert m.checkout_redirect("//evil.example") == "/"


def test_charge(monkeypatch):
    import requests

    calls = []

    def fake_post(url, **kwargs):
        calls.append((url, kwargs))
        return SimpleNamespace(status_code=201 if kwargs["json"]["amount"] > 0 else 402)

    monkeypatch.setattr(requests, "post", fake_post)
    monkeypatch.setattr(m, "PAYMENT_SECRET_KEY", "key-1")
    assert m.charge("ORD", 4500) is True
    assert m.charge("ORD", 0) is False
    assert calls[0] == ("https://pay.example/v1/charges", {
        "json": {"reference": "ORD", "amount": 4500, "currency": "EUR"},
        "headers": {"Authorization": "Bearer key-1"}, "timeout": 20})


def test_confirm_payment_and_refund(db):
    code = m.hold_seats(db, 7, 1, 2, NOW)
    other = m.hold_seats(db, 8, 1, 1, NOW)
    staff, customer = SimpleNamespace(is_staff=True), SimpleNamespace(is_staff=False)
    assert m.refund(db, staff, code) is False
    assert m.confirm_payment(db, code) is True
    assert m.confirm_payment(db, "missing") is False
    assert m.seats_left(db, 1, NOW + 601) == 8
    with pytest.raises(PermissionError):
        m.refund(db, customer, code)
    assert m.refund(db, staff, code) is True
    assert m.refund(db, staff, code) is False
    assert [r[0] for r in db.execute("SELECT code FROM tickets")] == [other]


def test_render_ticket():
    event = {"title": "Rock & <Roll>", "door": "B"}
    assert m.render_ticket(event, "Ann <ann@example.com>", "X1") == (
        "<h2>Rock &amp; &lt;Roll&gt;</h2><p>Holder: Ann &lt;ann@example.com&gt;</p><p>Order X1, door B</p>")
    page = m.render_ticket({"title": "T", "door": "<b>B</b>"}, "Ann", "<i>X2</i>")
    assert page.endswith("<p>Order &lt;i&gt;X2&lt;/i&gt;, door &lt;b&gt;B&lt;/b&gt;</p>")


def test_qr_png(monkeypatch):
    seen = []

    def fake_run(argv, **kwargs):
        seen.append((argv, kwargs))
        with open(argv[2], "wb") as handle:
            handle.write(b"PNG:" + argv[-1].encode())

    monkeypatch.setattr(m.subprocess, "run", fake_run)
    assert m.qr_png("ORD-1") == b"PNG:ORD-1"
    (argv, kwargs), = seen
    assert argv[:2] == ["qrencode", "-o"] and argv[3:] == ["--", "ORD-1"] and kwargs == {"check": True}
    assert argv[2].endswith(".png") and not os.path.exists(argv[2])


def test_ticket_file(tmp_path, monkeypatch):
    monkeypatch.setattr(m, "TICKET_DIR", str(tmp_path))
    assert m.ticket_file("ORD-1") == os.path.join(os.path.realpath(tmp_path), "ORD-1.pdf")
    with pytest.raises(ValueError):
        m.ticket_file("../../etc/passwd")


def test_assign_door():
    doors = ["A", "B", "C"]
    assert m.assign_door(doors, random.Random(3)) == doors[random.Random(3).randrange(3)]
    assert {m.assign_door(doors, random.Random(seed)) for seed in range(40)} == set(doors)
    assert m.assign_door(["only"]) == "only"
