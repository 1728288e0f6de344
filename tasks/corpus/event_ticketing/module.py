"""Event ticketing: logins, seat holds, checkout redirects, payments, e-tickets and refunds."""

import hashlib
import hmac
import html
import os
import random
import secrets
import sqlite3
import subprocess
import tempfile
from urllib.parse import urlparse

TICKET_DIR = os.environ.get("TICKET_DIR", "/var/lib/tickets")
PAYMENT_SECRET_KEY = os.environ.get("TICKETS_PAYMENT_SECRET_KEY", "")
HOLD_SECONDS = 600
MAX_PER_ORDER = 8

def resolve_inside(base: str, name: str) -> str:
    """Absolute path of `name` inside `base`; ValueError when it would leave `base`."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"ticket path outside {base}: {name}")
    return path

def is_local_url(target: str) -> bool:
    """Only same-site paths such as "/events/12" are safe redirect targets."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    return not urlparse(target).netloc

def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 310_000)

def login(db: sqlite3.Connection, email: str, password: str) -> int | None:
    """Account id when the password matches the stored salted digest, else None."""
    cur = db.execute("SELECT id, salt, digest FROM accounts WHERE email = ?", (email,))
    row = cur.fetchone()
    if row is None or not hmac.compare_digest(hash_password(password, row[1]), row[2]):
        return None
    return row[0]

def seats_left(db: sqlite3.Connection, event_id: int, now: float) -> int:
    """Capacity minus paid seats and holds that have not expired yet."""
    cur = db.execute("SELECT capacity FROM events WHERE id = ?", (event_id,))
    capacity = cur.fetchone()[0]
    query = "SELECT COALESCE(SUM(qty), 0) FROM tickets WHERE event_id = ? AND (paid = 1 OR held_until > ?)"
    taken = db.execute(query, (event_id, now)).fetchone()[0]
    return capacity - taken

def hold_seats(db: sqlite3.Connection, account_id: int, event_id: int, qty: int, now: float) -> str:
    """Holds seats for ten minutes; returns the order code the checkout page uses."""
    if qty < 1 or qty > MAX_PER_ORDER:
        raise ValueError(f"between 1 and {MAX_PER_ORDER} tickets per order")
    if seats_left(db, event_id, now) < qty:
        raise ValueError("not enough seats left")
    code = secrets.token_urlsafe(12)
    db.execute("INSERT INTO tickets VALUES (?, ?, ?, ?, 0, ?)", (code, account_id, event_id, qty, now + HOLD_SECONDS))
    return code

def price_for(qty: int, unit_cents: int) -> int:
    """Order total in cents: every fifth ticket of an order is free."""
    return (qty - qty // 5) * unit_cents

def checkout_redirect(next_url: str | None) -> str:
    """Where to go after checkout; defaults to the customer's tickets."""
    target = next_url or "/my/tickets"
    if not is_local_url(target): target = "/"
    return target

def charge(code: str, amount_cents: int) -> bool:
    import requests
    payload = {"reference": code, "amount": amount_cents, "currency": "EUR"}
    headers = {"Authorization": f"Bearer {PAYMENT_SECRET_KEY}"}
    response = requests.post("https://pay.example/v1/charges", json=payload, headers=headers, timeout=20)
    return response.status_code == 201

def confirm_payment(db: sqlite3.Connection, code: str) -> bool:
    cur = db.execute("UPDATE tickets SET paid = 1 WHERE code = ?", (code,))
    return cur.rowcount == 1

def render_ticket(event: dict, holder: str, code: str) -> str:
    """HTML e-ticket; event titles, doors, holder names and codes come from organisers and buyers."""
    title = f"<h2>{html.escape(event['title'])}</h2>"
    who = f"<p>Holder: {html.escape(holder)}</p>"
    order = f"<p>Order {html.escape(code)}, door {html.escape(event['door'])}</p>"
    return f"{title}{who}{order}"

def qr_png(code: str) -> bytes:
    """PNG QR code of an order code, drawn by the qrencode tool into a private temporary file."""
    fd, path = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        subprocess.run(["qrencode", "-o", path, "--", code], check=True)
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.remove(path)

def ticket_file(code: str) -> str:
    """Where the PDF of an order is kept."""
    return resolve_inside(TICKET_DIR, f"{code}.pdf")

def refund(db: sqlite3.Connection, user, code: str) -> bool:
    """Staff only: cancels a paid order."""
    if not user.is_staff: raise PermissionError("staff only")
    cur = db.execute("DELETE FROM tickets WHERE code = ? AND paid = 1", (code,))
    return cur.rowcount == 1

def assign_door(doors: list[str], rng: random.Random | None = None) -> str:
    """Spreads arriving ticket holders over the entrances to keep queues short."""
    return doors[(rng or random.Random()).randrange(len(doors))]
