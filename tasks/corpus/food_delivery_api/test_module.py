import hashlib
import hmac
import json
import logging
import os
import sqlite3

os.environ.setdefault("DELIVERY_WEBHOOK_SECRET", "test-webhook-secret")
os.environ.setdefault("DELIVERY_TRACKING_SECRET", "test-tracking-secret")

import pytest

import module as m

CUSTOMER = m.Actor(2)
OTHER_CUSTOMER = m.Actor(3)
COURIER = m.Actor(7)
OTHER_COURIER = m.Actor(8)
MANAGER = m.Actor(20, restaurant_id=10, is_manager=True)
OTHER_MANAGER = m.Actor(21, restaurant_id=11, is_manager=True)
KITCHEN_STAFF = m.Actor(22, restaurant_id=10)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INT, restaurant_id INT, courier_id INT, status TEXT,"
        " delivery_address TEXT, delivery_notes TEXT, contactless INT, total_cents INT, refunded_cents INT);"
        "CREATE TABLE menu_items (id INTEGER PRIMARY KEY, restaurant_id INT, name TEXT, price_cents INT, available INT, featured INT);"
        "CREATE TABLE courier_notes (order_id INT, courier_id INT, note TEXT);"
        "CREATE TABLE refunds (order_id INT, manager_id INT, amount_cents INT);"
    )
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (1, 2, 10, 7, "placed", "1 High St", "ring twice", 0, 2500, 0),
        (2, 2, 10, 7, "picked_up", "1 High St", "", 1, 3100, 0),
        (3, 3, 11, 8, "accepted", "9 Low Rd", "", 0, 1800, 0),
        (4, 2, 10, None, "awaiting_payment", "1 High St", "", 0, 2200, 0),
        (5, 3, 10, 8, "delivered", "9 Low Rd", "", 0, 4000, 1000),
    ])
    db.executemany("INSERT INTO menu_items VALUES (?, ?, ?, ?, ?, ?)",
                   [(1, 10, "Margherita", 900, 1, 0), (2, 11, "Pad thai", 1100, 1, 1)])
    yield db
    db.close()


def order_row(db, order_id):
    return db.execute("SELECT status, delivery_address, delivery_notes, contactless, total_cents, refunded_cents"
                      " FROM orders WHERE id = ?", (order_id,)).fetchone()


def test_delivery_fee_bands_and_their_limits():
    assert m.delivery_fee(0.0) == 199
    assert m.delivery_fee(2.0) == 199
    assert m.delivery_fee(2.01) == 299
    assert m.delivery_fee(5.0) == 299
    assert m.delivery_fee(5.5) == 449
    assert m.delivery_fee(8.0) == 449
    with pytest.raises(ValueError):
        m.delivery_fee(8.01)
    with pytest.raises(ValueError):
        m.delivery_fee(-0.5)


def test_delivery_fee_surge_is_floored_at_one_and_capped():
    assert m.delivery_fee(3.0, surge=1.25) == 374
    assert m.delivery_fee(1.0, surge=0.5) == 199
    assert m.delivery_fee(7.0, surge=3.0) == 898
    assert m.delivery_fee(7.0, surge=2.0) == 898


def test_surge_multiplier_follows_orders_per_courier():
    assert m.surge_multiplier(5, 0) == m.SURGE_CAP
    assert m.surge_multiplier(0, 3) == 1.0
    assert m.surge_multiplier(10, 5) == 1.0
    assert m.surge_multiplier(11, 5) == 1.05
    assert m.surge_multiplier(12, 4) == 1.25
    assert m.surge_multiplier(100, 2) == 2.0


def test_eta_takes_the_slowest_dish_the_queue_the_ride_and_the_handover():
    assert m.eta_minutes([12, 20, 8], 2, 3.0) == 20 + 8 + 12 + 3
    assert m.eta_minutes([5], 0, 1.1) == 5 + 5 + 3
    assert m.eta_minutes([], 0, 0.0) == 3
    assert m.eta_minutes([10], 1, 15.0) == 10 + 4 + 60 + 3


def test_basket_total_skips_unavailable_dishes():
    lines = [{"price_cents": 450, "quantity": 2, "available": True},
             {"price_cents": 900, "quantity": 1, "available": False},
             {"price_cents": 350, "quantity": 1, "available": True}]
    assert m.basket_total(lines, 1.0, 1.0) == {"subtotal": 1250, "delivery_fee": 199, "total": 1449}
    assert m.basket_total(lines, 4.0, 1.5)["total"] == 1250 + 448


def test_basket_total_minimum_order():
    exact = [{"price_cents": 600, "quantity": 2, "available": True}]
    assert m.basket_total(exact, 2.5, 1.0)["subtotal"] == 1200
    with pytest.raises(ValueError):
        m.basket_total([{"price_cents": 1199, "quantity": 1, "available": True}], 1.0, 1.0)
    with pytest.raises(ValueError):
        m.basket_total([{"price_cents": 5000, "quantity": 1, "available": False}], 1.0, 1.0)


def test_split_tip_by_distance_with_leftover_to_the_furthest_rider():
    assert m.split_tip(500, {7: 3.0, 8: 1.0}) == {7: 375, 8: 125}
    assert m.split_tip(101, {7: 1.0, 8: 2.0, 9: 1.0}) == {7: 25, 8: 51, 9: 25}
    assert m.split_tip(10, {9: 1.0, 7: 2.0}) == {9: 3, 7: 7}
    assert m.split_tip(99, {7: 4.2}) == {7: 99}
    with pytest.raises(ValueError):
        m.split_tip(100, {7: 0.0})
    with pytest.raises(ValueError):
        m.split_tip(100, {})


def test_orders_are_seen_by_their_customer_and_courier_only(conn):
    assert m.load_order(conn, 3)["user_id"] == 3
    with pytest.raises(LookupError):
        m.load_order(conn, 99)
    order = m.customer_order(conn, CUSTOMER, 1)
    assert order == {"id": 1, "user_id": 2, "restaurant_id": 10, "courier_id": 7, "status": "placed",
                     "delivery_address": "1 High St", "delivery_notes": "ring twice", "contactless": 0,
                     "total_cents": 2500, "refunded_cents": 0}
    assert m.customer_order(conn, CUSTOMER, 3) is None
    assert m.courier_order(conn, COURIER, 2) == (10, "1 High St", "", 1)
    assert m.courier_order(conn, COURIER, 3) is None


def test_edit_order_changes_delivery_details(conn):
    order = m.edit_order(conn, CUSTOMER, 1, {"delivery_address": "2 High St", "contactless": 1})
    assert order["delivery_address"] == "2 High St"
    assert order_row(conn, 1) == ("placed", "2 High St", "ring twice", 1, 2500, 0)
    m.edit_order(conn, CUSTOMER, 1, {"delivery_notes": "back door"})
    assert order_row(conn, 1) == ("placed", "2 High St", "back door", 1, 2500, 0)


def test_edit_order_refusals(conn):
    with pytest.raises(LookupError):
        m.edit_order(conn, OTHER_CUSTOMER, 1, {"delivery_notes": "x"})
    with pytest.raises(ValueError):
        m.edit_order(conn, CUSTOMER, 2, {"delivery_notes": "x"})
    assert order_row(conn, 1)[2] == "ring twice"


def test_cancel_order(conn):
    m.cancel_order(conn, CUSTOMER, 1)
    assert order_row(conn, 1)[0] == "cancelled"
    m.cancel_order(conn, OTHER_CUSTOMER, 3)
    assert order_row(conn, 3)[0] == "cancelled"
    with pytest.raises(ValueError):
        m.cancel_order(conn, CUSTOMER, 2)
    assert order_row(conn, 2)[0] == "picked_up"
    with pytest.raises(PermissionError):
        m.cancel_order(conn, OTHER_CUSTOMER, 4)


def test_mark_delivered(conn):
    assert m.mark_delivered(conn, COURIER, 2) is True
    assert order_row(conn, 2)[0] == "delivered"
    assert m.mark_delivered(conn, COURIER, 1) is False
    assert order_row(conn, 1)[0] == "placed"


def test_courier_notes_are_kept_truncated_and_audited(conn, caplog):
    with caplog.at_level(logging.INFO, logger="delivery.audit"):
        m.add_courier_note(conn, COURIER, 2, "gate code 1234")
        m.add_courier_note(conn, COURIER, 1, "x" * 300)
    notes = conn.execute("SELECT order_id, courier_id, note FROM courier_notes").fetchall()
    assert notes[0] == (2, 7, "gate code 1234")
    assert notes[1][2] == "x" * m.MAX_NOTE_CHARS
    assert caplog.messages[0] == "courier 7 noted on order 2: 'gate code 1234'"
    with pytest.raises(PermissionError):
        m.add_courier_note(conn, OTHER_COURIER, 2, "hello")
    assert len(conn.execute("SELECT * FROM courier_notes").fetchall()) == 2


def test_update_menu_item(conn):
    item = m.update_menu_item(conn, MANAGER, 1, {"price_cents": 950, "available": 0})
    assert item == {"id": 1, "name": "Margherita", "price_cents": 950, "available": 0, "featured": 0}
    row = conn.execute("SELECT name, price_cents, available, featured FROM menu_items WHERE id = 1").fetchone()
    assert row == ("Margherita", 950, 0, 0)
    m.update_menu_item(conn, MANAGER, 1, {"name": "Marinara"})
    assert conn.execute("SELECT name, price_cents FROM menu_items WHERE id = 1").fetchone() == ("Marinara", 950)


def test_update_menu_item_refusals(conn):
    with pytest.raises(LookupError):
        m.update_menu_item(conn, MANAGER, 2, {"price_cents": 1})
    with pytest.raises(PermissionError):
        m.update_menu_item(conn, KITCHEN_STAFF, 1, {"price_cents": 1})
    with pytest.raises(ValueError):
        m.update_menu_item(conn, MANAGER, 1, {"price_cents": 0})
    assert conn.execute("SELECT price_cents FROM menu_items WHERE id = 1").fetchone() == (900,)
    assert conn.execute("SELECT price_cents FROM menu_items WHERE id = 2").fetchone() == (1100,)


def test_refund_order_partial_then_the_rest(conn):
    assert m.refund_order(conn, MANAGER, 1, 1000) == 1500
    assert order_row(conn, 1)[5] == 1000
    assert m.refund_order(conn, MANAGER, 1, 1500) == 0
    assert conn.execute("SELECT * FROM refunds").fetchall() == [(1, 20, 1000), (1, 20, 1500)]
    assert m.refund_order(conn, MANAGER, 5, 3000) == 0


def test_refund_order_refusals(conn):
    with pytest.raises(ValueError):
        m.refund_order(conn, MANAGER, 5, 3001)
    with pytest.raises(ValueError):
        m.refund_order(conn, MANAGER, 1, 0)
    with pytest.raises(PermissionError):
        m.refund_order(conn, OTHER_MANAGER, 1, 100)
    with pytest.raises(PermissionError):
        m.refund_order(conn, KITCHEN_STAFF, 1, 100)
    assert order_row(conn, 1)[5] == 0 and order_row(conn, 5)[5] == 1000
    assert conn.execute("SELECT * FROM refunds").fetchall() == []


def test_sign_is_hmac_sha256():
    assert m.sign("abc", "k") == hmac.new(b"k", b"abc", hashlib.sha256).hexdigest()
    assert m.sign("abc", "k") != m.sign("abd", "k")


def test_payment_webhook(conn):
    body = json.dumps({"order_id": 4, "amount_cents": 2200})
    assert m.payment_webhook(conn, body, m.sign(body, m.WEBHOOK_SECRET)) == 4
    assert order_row(conn, 4)[0] == "placed"
    short = json.dumps({"order_id": 4, "amount_cents": 2100})
    with pytest.raises(ValueError):
        m.payment_webhook(conn, short, m.sign(short, m.WEBHOOK_SECRET))
    with pytest.raises(ValueError):
        m.payment_webhook(conn, body, m.sign(body, m.TRACKING_SECRET))


def test_payment_webhook_only_moves_awaiting_orders(conn):
    body = json.dumps({"order_id": 2, "amount_cents": 3100})
    assert m.payment_webhook(conn, body, m.sign(body, m.WEBHOOK_SECRET)) == 2
    assert order_row(conn, 2)[0] == "picked_up"


def test_tracking_link_until_it_expires(conn):
    token = m.tracking_token(2, now=1000.0)
    assert m.track_order(conn, token, now=1000.0 + m.TRACKING_TTL - 1) == {"order_id": 2, "status": "picked_up"}
    with pytest.raises(ValueError):
        m.track_order(conn, token, now=1000.0 + m.TRACKING_TTL)
    with pytest.raises(ValueError):
        m.track_order(conn, token[:-1] + ("0" if token[-1] != "0" else "1"), now=1000.0)


@pytest.fixture
def downloads(monkeypatch):
    fetched = []

    def fake_download(url):
        fetched.append(url)
        return PNG

    monkeypatch.setattr(m, "_download", fake_download)
    return fetched


def test_fetch_logo_from_the_cdn(downloads):
    assert m.fetch_logo("https://cdn.dishdash.example/r/10.png") == PNG
    assert downloads == ["https://cdn.dishdash.example/r/10.png"]


def test_fetch_logo_refusals(downloads, monkeypatch):
    for url in ("https://evil.example/logo.png", "http://cdn.dishdash.example/r/10.png"):
        with pytest.raises(ValueError):
            m.fetch_logo(url)
    assert downloads == []
    monkeypatch.setattr(m, "_download", lambda url: b"GIF89a" + b"\0" * 10)
    with pytest.raises(ValueError):
        m.fetch_logo("https://img.dishdash.example/a.gif")
    monkeypatch.setattr(m, "_download", lambda url: b"\xff\xd8\xff" + b"\0" * m.MAX_LOGO_BYTES)
    with pytest.raises(ValueError):
        m.fetch_logo("https://img.dishdash.example/a.jpg")
    monkeypatch.setattr(m, "_download", lambda url: b"\xff\xd8\xff" + b"\0" * (m.MAX_LOGO_BYTES - 3))
    assert len(m.fetch_logo("https://img.dishdash.example/a.jpg")) == m.MAX_LOGO_BYTES
