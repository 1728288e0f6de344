"""Fitness club portal: members book and cancel classes (full ones keep a waitlist), see and cancel
their payments and give friends signed, expiring guest passes; trainers keep their own classes'
rosters; managers price plans and freeze memberships; the payment provider calls a signed webhook."""
import base64
import calendar
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

audit = logging.getLogger("club.audit")

WEBHOOK_SECRET = os.environ["CLUB_WEBHOOK_SECRET"]
GUEST_PASS_SECRET = os.environ["CLUB_GUEST_PASS_SECRET"]
WEBHOOK_TOLERANCE = 300
GUEST_PASS_TTL = 3 * 86400
PHOTO_HOSTS = frozenset({"cdn.ironhall.example", "photos.ironhall.example"})
MAX_PHOTO_BYTES = 750_000
PROFILE_FIELDS = {"name", "email", "phone", "emergency_contact"}
MEMBER_COLUMNS = ("id", "name", "email", "phone", "emergency_contact", "plan_id", "status", "balance_cents")
OFF_PEAK_DISCOUNT = 0.25
WEEKDAY_OFF_PEAK = (10, 16)  # from 10:00 until 16:00
WEEKEND_OFF_PEAK_FROM = 13
LATE_CANCEL = timedelta(hours=2)
FREE_NO_SHOWS = 1
NO_SHOW_FEE_CENTS = 400
NO_SHOW_FEE_CAP_CENTS = 2000
STREAK_TARGET = 2  # visits a week that keep a streak going
MAX_FREEZE_WEEKS = 12


@dataclass
class Actor:
    id: int
    is_manager: bool = False
    is_active: bool = True


def first_invoice(monthly_cents: int, joining_fee_cents: int, start: date, off_peak: bool = False) -> dict:
    """The joining fee plus the rest of the starting month, prorated by days (the start day included)."""
    monthly = round(monthly_cents * (1 - OFF_PEAK_DISCOUNT)) if off_peak else monthly_cents
    days_in_month = calendar.monthrange(start.year, start.month)[1]
    remaining = days_in_month - start.day + 1
    first_month = round(monthly * remaining / days_in_month)
    return {"joining_fee": joining_fee_cents, "first_month": first_month, "total": joining_fee_cents + first_month}


def is_off_peak(when: datetime) -> bool:
    """Off-peak members may train weekdays between 10:00 and 16:00 and weekend afternoons."""
    if when.weekday() >= 5:
        return when.hour >= WEEKEND_OFF_PEAK_FROM
    opens, closes = WEEKDAY_OFF_PEAK
    return opens <= when.hour < closes


def no_show_fee(missed: int) -> int:
    """A month's no-shows and late cancellations: the first is forgiven, then a fee each, capped."""
    if missed <= FREE_NO_SHOWS:
        return 0
    return min((missed - FREE_NO_SHOWS) * NO_SHOW_FEE_CENTS, NO_SHOW_FEE_CAP_CENTS)


def attendance_streak(visits: list[date], today: date) -> int:
    """Weeks in a row (from Monday) of STREAK_TARGET visit days or more, up to this week or the last."""
    per_week: dict[date, int] = {}
    for day in set(visits):
        monday = day - timedelta(days=day.weekday())
        per_week[monday] = per_week.get(monday, 0) + 1
    week = today - timedelta(days=today.weekday())
    if per_week.get(week, 0) < STREAK_TARGET:
        week -= timedelta(weeks=1)
    streak = 0
    while per_week.get(week, 0) >= STREAK_TARGET:
        streak += 1
        week -= timedelta(weeks=1)
    return streak


def load_class(conn: sqlite3.Connection, class_id: int) -> dict:
    """A class with the places booked on it (any class: callers check who may act on it)."""
    row = conn.execute("SELECT trainer_id, capacity, starts_at, (SELECT COUNT(*) FROM bookings WHERE class_id = classes.id AND status = 'booked') "
                       "FROM classes WHERE id = ?", (class_id,)).fetchone()
    if row is None: raise LookupError(f"no class {class_id}")
    return {"id": class_id, "trainer_id": row[0], "capacity": row[1], "starts_at": datetime.fromisoformat(row[2]), "booked": row[3]}


def book_class(conn: sqlite3.Connection, actor: Actor, class_id: int) -> dict:
    """A place on the class for the member, or a place on its waitlist once the class is full."""
    cls = load_class(conn, class_id)
    status = "booked" if cls["booked"] < cls["capacity"] else "waitlisted"
    cursor = conn.execute("INSERT INTO bookings (class_id, member_id, status) VALUES (?, ?, ?)", (class_id, actor.id, status))
    return {"id": cursor.lastrowid, "status": status}


def promote_waitlist(conn: sqlite3.Connection, class_id: int) -> int | None:
    """Gives a free place to the member who has waited longest; returns their booking id."""
    cls = load_class(conn, class_id)
    if cls["booked"] >= cls["capacity"]:
        return None
    row = conn.execute("SELECT id FROM bookings WHERE class_id = ? AND status = 'waitlisted' ORDER BY id LIMIT 1", (class_id,)).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE bookings SET status = 'booked' WHERE id = ?", (row[0],))
    return row[0]


def member_bookings(conn: sqlite3.Connection, actor: Actor, status: str) -> list[tuple]:
    return conn.execute("SELECT id, class_id, status FROM bookings WHERE status = ? AND member_id = ? ORDER BY id", (status, actor.id)).fetchall()


def cancel_booking(conn: sqlite3.Connection, actor: Actor, booking_id: int, now: datetime, reason: str = "") -> bool:
    """Cancels the member's own booking and moves the waitlist up; True when it counts as a no-show."""
    row = conn.execute("SELECT id, class_id, member_id, status FROM bookings WHERE id = ?", (booking_id,)).fetchone()
    if row is None: raise LookupError(f"no booking {booking_id}")
    booking = dict(zip(("id", "class_id", "member_id", "status"), row))
    if booking["member_id"] != actor.id: raise PermissionError("not your booking")
    closed = conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = ? AND status IN ('booked', 'waitlisted')", (booking_id,)).rowcount
    if not closed: raise ValueError("the booking is no longer open")
    audit.info("member %s cancelled booking %s: %r", actor.id, booking_id, reason)
    if booking["status"] == "waitlisted":
        return False
    promote_waitlist(conn, booking["class_id"])
    late = load_class(conn, booking["class_id"])["starts_at"] - now < LATE_CANCEL
    if late:
        conn.execute("UPDATE bookings SET status = 'late_cancel' WHERE id = ?", (booking_id,))
    return late


def class_roster(conn: sqlite3.Connection, actor: Actor, class_id: int) -> list[tuple]:
    """Who is booked on (then waiting for) one of the trainer's own classes."""
    if conn.execute("SELECT 1 FROM classes WHERE id = ? AND trainer_id = ?", (class_id, actor.id)).fetchone() is None:
        raise PermissionError("not your class")
    return conn.execute("SELECT m.name, b.status FROM bookings b JOIN members m ON m.id = b.member_id "
                        "WHERE b.class_id = ? AND b.status IN ('booked', 'waitlisted') ORDER BY b.status, b.id", (class_id,)).fetchall()


def mark_attendance(conn: sqlite3.Connection, actor: Actor, class_id: int, present: list[int]) -> int:
    """The trainer's register: booked members not present become no-shows; returns how many."""
    cls = load_class(conn, class_id)
    if cls["trainer_id"] != actor.id: raise PermissionError("not your class")
    conn.execute("UPDATE bookings SET status = 'no_show' WHERE class_id = ? AND status = 'booked'", (class_id,))
    conn.executemany("UPDATE bookings SET status = 'attended' WHERE class_id = ? AND member_id = ? AND status = 'no_show'",
                     [(class_id, member_id) for member_id in present])
    return conn.execute("SELECT COUNT(*) FROM bookings WHERE class_id = ? AND status = 'no_show'", (class_id,)).fetchone()[0]


def member_payments(conn: sqlite3.Connection, actor: Actor, month: str) -> list[tuple]:
    """The member's payments of one month ("2024-05")."""
    pattern = date.fromisoformat(month + "-01").strftime("%Y-%m") + "-%"
    return conn.execute("SELECT id, amount_cents, status, due_on FROM payments WHERE due_on LIKE ? AND member_id = ? ORDER BY due_on", (pattern, actor.id)).fetchall()


def cancel_payment(conn: sqlite3.Connection, actor: Actor, payment_id: int) -> bool:
    """A member may cancel a payment of theirs the provider has not collected yet."""
    return conn.execute("UPDATE payments SET status = 'cancelled' WHERE id = ? AND status = 'pending' AND member_id = ?", (payment_id, actor.id)).rowcount == 1


def update_profile(conn: sqlite3.Connection, actor: Actor, changes: dict) -> dict:
    row = conn.execute("SELECT id, name, email, phone, emergency_contact, plan_id, status, balance_cents FROM members WHERE id = ?", (actor.id,)).fetchone()
    member = dict(zip(MEMBER_COLUMNS, row))
    member.update({k: v for k, v in changes.items() if k in PROFILE_FIELDS})
    conn.execute("UPDATE members SET name = ?, email = ?, phone = ?, emergency_contact = ?, plan_id = ?, status = ?, balance_cents = ? WHERE id = ?",
                 tuple(member[column] for column in MEMBER_COLUMNS[1:]) + (actor.id,))
    return member


def set_plan_price(conn: sqlite3.Connection, actor: Actor, plan_id: int, monthly_cents: int, joining_fee_cents: int) -> None:
    if monthly_cents <= 0 or joining_fee_cents < 0: raise ValueError("a plan needs a monthly price")
    if not actor.is_manager: raise PermissionError("club managers only")
    conn.execute("UPDATE plans SET monthly_cents = ?, joining_fee_cents = ? WHERE id = ?", (monthly_cents, joining_fee_cents, plan_id))


def freeze_membership(conn: sqlite3.Connection, actor: Actor, member_id: int, start: date, weeks: int) -> date:
    """Pauses a membership (injury, travel); returns the day billing resumes."""
    if not 1 <= weeks <= MAX_FREEZE_WEEKS: raise ValueError(f"a freeze lasts 1 to {MAX_FREEZE_WEEKS} weeks")
    resumes = start + timedelta(weeks=weeks)
    if not actor.is_manager: raise PermissionError("club managers only")
    conn.execute("UPDATE members SET status = 'frozen', frozen_until = ? WHERE id = ?", (resumes.isoformat(), member_id))
    return resumes


def sign(message: str, secret: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def payment_webhook(conn: sqlite3.Connection, body: str, signature: str, now: float) -> bool:
    """The provider's notice {"payment_id", "outcome", "created_at"} settles a pending payment."""
    if not hmac.compare_digest(sign(body, WEBHOOK_SECRET), signature): raise ValueError("bad webhook signature")
    notice = json.loads(body)
    if now - notice["created_at"] > WEBHOOK_TOLERANCE: raise ValueError("stale webhook")
    outcome = {"succeeded": "paid", "failed": "failed"}[notice["outcome"]]
    return conn.execute("UPDATE payments SET status = ? WHERE id = ? AND status = 'pending'", (outcome, notice["payment_id"])).rowcount == 1


def issue_guest_pass(actor: Actor, guest: str, now: float) -> str:
    claims = {"host": actor.id, "guest": guest, "iat": now, "exp": now + GUEST_PASS_TTL}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    return f"{payload}.{sign(payload, GUEST_PASS_SECRET)}"


def admit_guest(token: str, now: float) -> dict:
    """The front desk scans a guest pass: its signature and expiry decide."""
    payload, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(payload, GUEST_PASS_SECRET), mac): raise ValueError("forged guest pass")
    claims = json.loads(base64.urlsafe_b64decode(payload))
    if claims["exp"] <= now: raise ValueError("guest pass expired")
    audit.info("guest %r admitted on the pass of member %s", claims["guest"], claims["host"])
    return claims


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise ValueError(f"photo host answered {code}: redirects are not followed")


def _download(url: str) -> bytes:
    with urllib.request.build_opener(_RefuseRedirects).open(url, timeout=8) as response:
        return response.read(MAX_PHOTO_BYTES + 1)


def fetch_trainer_photo(url: str) -> bytes:
    """A trainer's profile photo from the URL they give, which must be on the club's CDN."""
    if urlsplit(url).scheme != "https": raise ValueError("photos are fetched over https")
    if urlsplit(url).hostname not in PHOTO_HOSTS: raise ValueError("photos must be hosted on the club CDN")
    data = _download(url)
    if len(data) > MAX_PHOTO_BYTES: raise ValueError("photo too large")
    return data
