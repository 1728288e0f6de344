"""Corporate travel booking API: travellers book and manage their own trips, travel managers approve
trips outside the fare policy, and partner airlines post signed fare changes."""
import hashlib
import hmac
import json
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

audit = logging.getLogger("travel.audit")
FARE_SECRET = os.environ["TRAVEL_FARE_SECRET"]
FARE_UPDATE_MAX_AGE = 300
APP_HOST = "travel.corp.example"
IMAGE_HOSTS = frozenset({"images.hotelpartner.example", "cdn.staysync.example"})
EDITABLE_FIELDS = {"seat", "meal", "loyalty_number"}
PER_DIEM_CENTS = {"GB": 5500, "US": 6400, "DE": 4850, "JP": 7200}
DEFAULT_PER_DIEM_CENTS = 4500
CABIN_LIMITS = {"economy": 90_000, "premium": 160_000, "business": 450_000}
LONG_HAUL_MINUTES = 360
MIN_CONNECTION = timedelta(minutes=45)
BOOKING_COLUMNS = ("id", "account_id", "employee_id", "destination", "cabin", "fare_cents", "flight_minutes", "status", "seat", "meal", "loyalty_number")


@dataclass
class Actor:
    id: int
    account_id: int
    is_manager: bool = False
    is_active: bool = True


def nights_between(check_in: date, check_out: date) -> int:
    nights = (check_out - check_in).days
    if nights < 1: raise ValueError("check-out must be after check-in")
    return nights


def per_diem(country: str, depart: date, back: date) -> int:
    """Meals and incidentals in cents: the country's daily rate, 75% of it on the first and last day."""
    if back < depart: raise ValueError("return before departure")
    rate = PER_DIEM_CENTS.get(country, DEFAULT_PER_DIEM_CENTS)
    travel_day = rate * 3 // 4
    days = (back - depart).days + 1
    if days == 1:
        return travel_day
    return rate * (days - 2) + 2 * travel_day


def policy_breaches(cabin: str, fare_cents: int, flight_minutes: int) -> list[str]:
    """Why a fare is outside the travel policy (none: within policy)."""
    if cabin not in CABIN_LIMITS:
        return [f"{cabin} is not a bookable cabin"]
    breaches = []
    if cabin != "economy" and flight_minutes < LONG_HAUL_MINUTES:
        breaches.append(f"{cabin} is for flights of {LONG_HAUL_MINUTES} minutes or more")
    if fare_cents > CABIN_LIMITS[cabin]:
        breaches.append(f"fare above the {cabin} limit")
    return breaches


def itinerary_minutes(legs: list[dict]) -> int:
    """Door-to-door minutes of a multi-leg trip; ValueError when its legs do not connect."""
    if not legs: raise ValueError("an itinerary needs at least one leg")
    for leg in legs:
        if leg["arrives"] <= leg["departs"]: raise ValueError(f"leg to {leg['destination']} arrives before it departs")
    for previous, leg in zip(legs, legs[1:]):
        if leg["origin"] != previous["destination"]: raise ValueError(f"no leg leaves from {previous['destination']}")
        if leg["departs"] - previous["arrives"] < MIN_CONNECTION: raise ValueError(f"connection at {leg['origin']} too short")
    return int((legs[-1]["arrives"] - legs[0]["departs"]).total_seconds()) // 60


def load_booking(conn: sqlite3.Connection, booking_id: int) -> dict:
    row = conn.execute("SELECT id, account_id, employee_id, destination, cabin, fare_cents, flight_minutes, status, seat, meal, loyalty_number FROM bookings WHERE id = ?", (booking_id,)).fetchone()
    if row is None: raise LookupError(f"no booking {booking_id}")
    return dict(zip(BOOKING_COLUMNS, row))


def book_trip(conn: sqlite3.Connection, actor: Actor, destination: str, cabin: str, fare_cents: int, legs: list[dict]) -> tuple[int, str]:
    """A new booking: confirmed when within policy, otherwise waiting for a travel manager."""
    minutes = itinerary_minutes(legs)
    status = "pending_approval" if policy_breaches(cabin, fare_cents, minutes) else "confirmed"
    booking_id = conn.execute("INSERT INTO bookings (account_id, employee_id, destination, cabin, fare_cents, flight_minutes, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (actor.account_id, actor.id, destination, cabin, fare_cents, minutes, status)).lastrowid
    return booking_id, status


def my_booking(conn: sqlite3.Connection, actor: Actor, booking_id: int) -> tuple | None:
    return conn.execute("SELECT id, destination, cabin, fare_cents, status FROM bookings WHERE id = ? AND employee_id = ?", (booking_id, actor.id)).fetchone()


def search_trips(conn: sqlite3.Connection, actor: Actor, destination: str) -> list[tuple]:
    """The traveller's trips to a destination; words are matched from their start ("york" finds New York)."""
    rows = conn.execute("SELECT id, destination, status FROM bookings WHERE status != ? AND employee_id = ? ORDER BY id", ("cancelled", actor.id)).fetchall()
    pattern = re.compile(r"\b" + re.escape(destination.strip()), re.IGNORECASE)
    return [row for row in rows if pattern.search(row[1])]


def update_booking(conn: sqlite3.Connection, actor: Actor, booking_id: int, changes: dict) -> dict:
    booking = load_booking(conn, booking_id)
    if booking["employee_id"] != actor.id: raise PermissionError("not your booking")
    if booking["status"] == "cancelled": raise ValueError("booking is cancelled")
    booking.update({k: v for k, v in changes.items() if k in EDITABLE_FIELDS})
    conn.execute("UPDATE bookings SET seat = ?, meal = ?, loyalty_number = ?, cabin = ?, fare_cents = ?, status = ? WHERE id = ?",
                 (booking["seat"], booking["meal"], booking["loyalty_number"], booking["cabin"], booking["fare_cents"], booking["status"], booking_id))
    return booking


def add_note(conn: sqlite3.Connection, actor: Actor, booking_id: int, note: str) -> None:
    """A traveller's note for the travel desk, also written to the audit log."""
    booking = load_booking(conn, booking_id)
    if booking["employee_id"] != actor.id: raise PermissionError("only the traveller adds notes")
    conn.execute("INSERT INTO notes (booking_id, author_id, body) VALUES (?, ?, ?)", (booking_id, actor.id, note))
    audit.info("note on booking %s by traveller %s: %r", booking_id, actor.id, note)


def cancel_booking(conn: sqlite3.Connection, actor: Actor, booking_id: int) -> bool:
    return conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = ? AND employee_id = ?", (booking_id, actor.id)).rowcount == 1


def pending_approvals(conn: sqlite3.Connection, actor: Actor) -> list[tuple]:
    if not actor.is_manager: raise PermissionError("travel managers only")
    return conn.execute("SELECT id, employee_id, destination, fare_cents FROM bookings WHERE status = ? AND account_id = ? ORDER BY id", ("pending_approval", actor.account_id)).fetchall()


def decide_trip(conn: sqlite3.Connection, actor: Actor, booking_id: int, approve: bool) -> str:
    if not actor.is_manager: raise PermissionError("travel managers only")
    booking = load_booking(conn, booking_id)
    if booking["account_id"] != actor.account_id: raise PermissionError("booking of another company")
    if booking["employee_id"] == actor.id: raise PermissionError("trips cannot be self-approved")
    if booking["status"] != "pending_approval": raise ValueError("booking is not waiting for approval")
    status = "approved" if approve else "rejected"
    conn.execute("UPDATE bookings SET status = ?, approver_id = ? WHERE id = ?", (status, actor.id, booking_id))
    audit.info("booking %s %s by manager %s", booking_id, status, actor.id)
    return status


def fare_signature(body: str) -> str:
    return hmac.new(FARE_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()


def apply_fare_update(conn: sqlite3.Connection, body: str, signature: str, now: float) -> str:
    """A partner airline's signed fare change; a trip it takes outside the policy needs approval again."""
    if not hmac.compare_digest(fare_signature(body), signature): raise ValueError("bad fare update signature")
    update = json.loads(body)
    if now - update["issued_at"] > FARE_UPDATE_MAX_AGE: raise ValueError("stale fare update")
    booking = load_booking(conn, update["booking_id"])
    status = booking["status"]
    if status != "cancelled":
        status = "pending_approval" if policy_breaches(booking["cabin"], update["fare_cents"], booking["flight_minutes"]) else "confirmed"
    conn.execute("UPDATE bookings SET fare_cents = ?, status = ? WHERE id = ?", (update["fare_cents"], status, booking["id"]))
    return status


def hotel_image(fetch, url: str) -> bytes:
    """A hotel's photo for the booking page, fetched server-side from a partner's image host."""
    if urlsplit(url).hostname not in IMAGE_HOSTS: raise ValueError("not a partner image host")
    return fetch(url)


def after_login(target: str) -> str:
    """Where to send a traveller once signed in: a page of this app, else their trips."""
    target = target.replace("\\", "/")
    if urlsplit(target).scheme not in ("", "https"): return "/trips"
    if urlsplit(target).netloc not in ("", APP_HOST): return "/trips"
    return target
