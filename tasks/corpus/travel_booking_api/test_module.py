import hashlib
import hmac
import json
import logging
import os
import sqlite3
from datetime import date, datetime

os.environ.setdefault("TRAVEL_FARE_SECRET", "test-fare-secret")

import pytest

import module as m

ANN = m.Actor(1, account_id=100)
BEN = m.Actor(2, account_id=100)
MANAGER = m.Actor(3, account_id=100, is_manager=True)
OTHER_MANAGER = m.Actor(4, account_id=200, is_manager=True)
NOW = 1_700_000_000.0


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE bookings (id INTEGER PRIMARY KEY, account_id INT, employee_id INT, destination TEXT, cabin TEXT,"
        " fare_cents INT, flight_minutes INT, status TEXT, seat TEXT, meal TEXT, loyalty_number TEXT, approver_id INT);"
        "CREATE TABLE notes (booking_id INT, author_id INT, body TEXT);"
    )
    db.executemany("INSERT INTO bookings (id, account_id, employee_id, destination, cabin, fare_cents, flight_minutes, status,"
                   " seat, meal, loyalty_number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                       (1, 100, 1, "New York", "economy", 65000, 480, "confirmed", "12A", "vegetarian", "BA123"),
                       (2, 100, 1, "Berlin", "business", 210000, 110, "pending_approval", None, None, None),
                       (3, 100, 2, "Newark", "premium", 120000, 400, "pending_approval", None, None, None),
                       (4, 100, 1, "York", "economy", 9000, 130, "cancelled", None, None, None),
                       (5, 200, 5, "Tokyo", "business", 400000, 800, "pending_approval", None, None, None),
                       (6, 100, 3, "Paris", "business", 100000, 80, "pending_approval", None, None, None),
                   ])
    yield db
    db.close()


def status(db, booking_id):
    return db.execute("SELECT status FROM bookings WHERE id = ?", (booking_id,)).fetchone()[0]


def leg(origin, destination, departs, arrives):
    return {"origin": origin, "destination": destination,
            "departs": datetime.fromisoformat(departs), "arrives": datetime.fromisoformat(arrives)}


def test_nights_between():
    assert m.nights_between(date(2024, 3, 1), date(2024, 3, 4)) == 3
    assert m.nights_between(date(2024, 2, 28), date(2024, 3, 1)) == 2
    assert m.nights_between(date(2024, 3, 1), date(2024, 3, 2)) == 1
    with pytest.raises(ValueError):
        m.nights_between(date(2024, 3, 1), date(2024, 3, 1))
    with pytest.raises(ValueError):
        m.nights_between(date(2024, 3, 2), date(2024, 3, 1))


def test_per_diem_pays_three_quarters_on_travel_days():
    day = date(2024, 5, 6)
    assert m.per_diem("GB", day, day) == 4125
    assert m.per_diem("GB", day, date(2024, 5, 7)) == 8250
    assert m.per_diem("GB", day, date(2024, 5, 8)) == 13750
    assert m.per_diem("US", day, date(2024, 5, 10)) == 28800
    assert m.per_diem("FR", day, day) == 3375
    assert m.per_diem("DE", day, day) == 3637
    assert m.per_diem("DE", day, date(2024, 5, 8)) == 12124
    assert isinstance(m.per_diem("DE", day, date(2024, 5, 8)), int)
    assert m.per_diem("FR", day, date(2024, 5, 9)) == 15750
    with pytest.raises(ValueError):
        m.per_diem("GB", day, date(2024, 5, 5))


def test_policy_breaches():
    assert m.policy_breaches("economy", 90_000, 60) == []
    assert m.policy_breaches("economy", 90_001, 600) == ["fare above the economy limit"]
    assert m.policy_breaches("business", 300_000, 359) == ["business is for flights of 360 minutes or more"]
    assert m.policy_breaches("business", 450_000, 360) == []
    assert m.policy_breaches("premium", 170_000, 200) == ["premium is for flights of 360 minutes or more",
                                                         "fare above the premium limit"]
    assert m.policy_breaches("first", 1, 900) == ["first is not a bookable cabin"]


def test_itinerary_minutes_of_connecting_legs():
    assert m.itinerary_minutes([leg("LHR", "JFK", "2024-05-06T09:00", "2024-05-06T17:00")]) == 480
    trip = [leg("LHR", "FRA", "2024-05-06T07:00", "2024-05-06T09:45"), leg("FRA", "SFO", "2024-05-06T10:30", "2024-05-06T22:00"),
            leg("SFO", "SJC", "2024-05-06T23:00", "2024-05-06T23:40")]
    assert m.itinerary_minutes(trip) == 16 * 60 + 40
    assert m.itinerary_minutes(trip[:2]) == 15 * 60


def test_itinerary_refusals():
    with pytest.raises(ValueError):
        m.itinerary_minutes([])
    with pytest.raises(ValueError):
        m.itinerary_minutes([leg("LHR", "JFK", "2024-05-06T09:00", "2024-05-06T09:00")])
    with pytest.raises(ValueError):
        m.itinerary_minutes([leg("LHR", "FRA", "2024-05-06T07:00", "2024-05-06T09:45"),
                             leg("FRA", "SFO", "2024-05-06T10:29", "2024-05-06T22:00")])
    with pytest.raises(ValueError):
        m.itinerary_minutes([leg("LHR", "FRA", "2024-05-06T07:00", "2024-05-06T09:45"),
                             leg("MUC", "SFO", "2024-05-06T12:00", "2024-05-06T22:00")])
    with pytest.raises(ValueError):
        m.itinerary_minutes([leg("LHR", "FRA", "2024-05-06T07:00", "2024-05-06T09:45"),
                             leg("FRA", "SFO", "2024-05-06T11:00", "2024-05-06T10:00")])


def test_load_booking(conn):
    booking = m.load_booking(conn, 1)
    assert booking["destination"] == "New York" and booking["employee_id"] == 1 and booking["loyalty_number"] == "BA123"
    with pytest.raises(LookupError):
        m.load_booking(conn, 99)


def test_book_trip_confirms_within_policy(conn):
    booking_id, state = m.book_trip(conn, BEN, "New York", "economy", 70000, [leg("LHR", "JFK", "2024-05-06T09:00", "2024-05-06T17:00")])
    assert state == "confirmed"
    row = conn.execute("SELECT account_id, employee_id, destination, cabin, fare_cents, flight_minutes, status FROM bookings WHERE id = ?",
                       (booking_id,)).fetchone()
    assert row == (100, 2, "New York", "economy", 70000, 480, "confirmed")
    booking_id, state = m.book_trip(conn, BEN, "Paris", "business", 70000, [leg("LHR", "CDG", "2024-05-06T09:00", "2024-05-06T10:20")])
    assert state == "pending_approval" and status(conn, booking_id) == "pending_approval"


def test_my_booking(conn):
    assert m.my_booking(conn, ANN, 1) == (1, "New York", "economy", 65000, "confirmed")
    assert m.my_booking(conn, BEN, 1) is None


def test_search_trips_matches_words_from_their_start(conn):
    assert m.search_trips(conn, ANN, "york") == [(1, "New York", "confirmed")]
    assert m.search_trips(conn, ANN, " BER ") == [(2, "Berlin", "pending_approval")]
    assert m.search_trips(conn, ANN, "ork") == []
    assert m.search_trips(conn, ANN, "new") == [(1, "New York", "confirmed")]
    assert m.search_trips(conn, BEN, "new") == [(3, "Newark", "pending_approval")]
    assert m.search_trips(conn, ANN, "") == [(1, "New York", "confirmed"), (2, "Berlin", "pending_approval")]


def test_update_booking_takes_the_editable_fields(conn):
    booking = m.update_booking(conn, ANN, 1, {"seat": "3C", "meal": "halal"})
    assert booking["seat"] == "3C" and booking["loyalty_number"] == "BA123"
    row = conn.execute("SELECT seat, meal, loyalty_number, cabin, fare_cents, status FROM bookings WHERE id = 1").fetchone()
    assert row == ("3C", "halal", "BA123", "economy", 65000, "confirmed")
    m.update_booking(conn, ANN, 2, {"loyalty_number": "LH9"})
    assert conn.execute("SELECT loyalty_number, status FROM bookings WHERE id = 2").fetchone() == ("LH9", "pending_approval")


def test_update_booking_refusals(conn):
    with pytest.raises(PermissionError):
        m.update_booking(conn, BEN, 1, {"seat": "1A"})
    with pytest.raises(ValueError):
        m.update_booking(conn, ANN, 4, {"seat": "1A"})
    with pytest.raises(LookupError):
        m.update_booking(conn, ANN, 99, {})


def test_add_note_is_stored_and_audited(conn, caplog):
    with caplog.at_level(logging.INFO, logger="travel.audit"):
        m.add_note(conn, ANN, 1, "aisle seat\nplease")
    assert conn.execute("SELECT booking_id, author_id, body FROM notes").fetchall() == [(1, 1, "aisle seat\nplease")]
    assert caplog.messages == ["note on booking 1 by traveller 1: 'aisle seat\\nplease'"]
    with pytest.raises(PermissionError):
        m.add_note(conn, BEN, 1, "x")


def test_cancel_booking(conn):
    assert m.cancel_booking(conn, BEN, 1) is False
    assert status(conn, 1) == "confirmed"
    assert m.cancel_booking(conn, ANN, 1) is True
    assert status(conn, 1) == "cancelled"


def test_pending_approvals(conn):
    assert [row[0] for row in m.pending_approvals(conn, MANAGER)] == [2, 3, 6]
    assert m.pending_approvals(conn, OTHER_MANAGER) == [(5, 5, "Tokyo", 400000)]
    with pytest.raises(PermissionError):
        m.pending_approvals(conn, ANN)


def test_decide_trip(conn, caplog):
    with caplog.at_level(logging.INFO, logger="travel.audit"):
        assert m.decide_trip(conn, MANAGER, 2, approve=True) == "approved"
    assert conn.execute("SELECT status, approver_id FROM bookings WHERE id = 2").fetchone() == ("approved", 3)
    assert caplog.messages == ["booking 2 approved by manager 3"]
    assert m.decide_trip(conn, MANAGER, 3, approve=False) == "rejected"
    assert status(conn, 3) == "rejected"
    with pytest.raises(ValueError):
        m.decide_trip(conn, MANAGER, 2, approve=False)


def test_decide_trip_refusals(conn):
    with pytest.raises(PermissionError):
        m.decide_trip(conn, MANAGER, 6, approve=True)
    with pytest.raises(PermissionError):
        m.decide_trip(conn, MANAGER, 5, approve=True)
    with pytest.raises(PermissionError):
        m.decide_trip(conn, ANN, 3, approve=True)
    assert [status(conn, n) for n in (3, 5, 6)] == ["pending_approval"] * 3


def signed(payload):
    body = json.dumps(payload)
    return body, hmac.new(b"test-fare-secret", body.encode(), hashlib.sha256).hexdigest()


def test_fare_signature_is_hmac_sha256():
    assert m.fare_signature("abc") == hmac.new(b"test-fare-secret", b"abc", hashlib.sha256).hexdigest()


def test_apply_fare_update(conn):
    body, signature = signed({"booking_id": 1, "fare_cents": 95000, "issued_at": NOW - m.FARE_UPDATE_MAX_AGE})
    assert m.apply_fare_update(conn, body, signature, NOW) == "pending_approval"
    assert conn.execute("SELECT fare_cents, status FROM bookings WHERE id = 1").fetchone() == (95000, "pending_approval")
    body, signature = signed({"booking_id": 1, "fare_cents": 60000, "issued_at": NOW})
    assert m.apply_fare_update(conn, body, signature, NOW + 1) == "confirmed"
    assert conn.execute("SELECT fare_cents, status FROM bookings WHERE id = 1").fetchone() == (60000, "confirmed")
    body, signature = signed({"booking_id": 4, "fare_cents": 1000, "issued_at": NOW})
    assert m.apply_fare_update(conn, body, signature, NOW) == "cancelled"
    assert conn.execute("SELECT fare_cents, status FROM bookings WHERE id = 4").fetchone() == (1000, "cancelled")


def test_fare_update_refusals(conn):
    body, signature = signed({"booking_id": 1, "fare_cents": 1, "issued_at": NOW - m.FARE_UPDATE_MAX_AGE - 1})
    with pytest.raises(ValueError):
        m.apply_fare_update(conn, body, signature, NOW)
    body, _ = signed({"booking_id": 1, "fare_cents": 1, "issued_at": NOW})
    with pytest.raises(ValueError):
        m.apply_fare_update(conn, body, m.fare_signature(body + " "), NOW)
    assert conn.execute("SELECT fare_cents FROM bookings WHERE id = 1").fetchone() == (65000,)


def test_hotel_image_only_from_partner_hosts():
    fetched = []
    fetch = lambda url: fetched.append(url) or b"jpeg"  # noqa: E731
    assert m.hotel_image(fetch, "https://cdn.staysync.example/h/42.jpg") == b"jpeg"
    assert fetched == ["https://cdn.staysync.example/h/42.jpg"]
    with pytest.raises(ValueError):
        m.hotel_image(fetch, "https://evil.example/42.jpg")
    assert len(fetched) == 1


def test_after_login_stays_on_the_app():
    assert m.after_login("/trips/2") == "/trips/2"
    assert m.after_login("https://travel.corp.example/approvals") == "https://travel.corp.example/approvals"
    assert m.after_login("https://evil.example/") == "/trips"
    assert m.after_login("//evil.example/x") == "/trips"
    assert m.after_login("/\\evil.example") == "/trips"
    assert m.after_login("javascript:alert(1)") == "/trips"
    assert m.after_login("http://travel.corp.example/") == "/trips"
