"""Clinic patient portal: staff login, booking, appointment pages, reset links and exports."""

import csv
import hashlib
import hmac
import html
import os
import random
import secrets
import sqlite3
from urllib.parse import urlparse

BASE_DIR = os.environ.get("PORTAL_EXPORT_DIR", "/srv/portal/exports")
SESSION_SECRET = os.environ.get("PORTAL_SESSION_SECRET", "")
RESET_TTL_SECONDS = 3600


def resolve_inside(base: str, name: str) -> str:
    """Absolute path of `name` inside `base`; ValueError when it would leave `base`."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"export path outside {base}: {name}")
    return path


def is_local_url(target: str) -> bool:
    """Only same-site paths such as "/appointments?day=2" are safe redirect targets."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    return not urlparse(target).netloc


def login(conn: sqlite3.Connection, username: str, password: str) -> bool:
    """Checks a staff password against the stored salt and PBKDF2-SHA256 digest."""
    cur = conn.cursor()
    cur.execute("SELECT salt, digest FROM staff WHERE username = ?", (username,))
    row = cur.fetchone()
    if row is None:
        return False
    salt = row[0]
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
    return hmac.compare_digest(digest, row[1])


def after_login_redirect(next_url: str | None) -> str:
    """Where to send a user after login; defaults to the dashboard."""
    target = next_url or "/dashboard"
    if not is_local_url(target): target = "/"
    return target


def lockout_seconds(failures: int) -> int:
    """Delay after failed logins: doubling up to five minutes, plus jitter against bursts."""
    if failures < 3:
        return 0
    return min(2 ** (failures - 3) * 10, 300) + random.randint(0, 3)


def slot_label(slot: int) -> str:
    """Clock time of a 15-minute slot; slot 0 starts at 08:00."""
    minutes = slot * 15
    return f"{8 + minutes // 60:02d}:{minutes % 60:02d}"


def book(conn: sqlite3.Connection, patient_id: int, doc: str, day: str, slot: int) -> bool:
    """Books a slot if the doctor is free then; returns False when it is taken."""
    cur = conn.cursor()
    cur.execute("SELECT 1 FROM appts WHERE doctor = ? AND day = ? AND slot = ?", (doc, day, slot))
    if cur.fetchone() is not None:
        return False
    cur.execute("INSERT INTO appts VALUES (?, ?, ?, ?)", (patient_id, doc, day, slot))
    return True


def patient_page(patient: dict, appts: list[tuple[str, int, str]]) -> str:
    """HTML page with a patient's details and their appointments (day, slot, doctor)."""
    parts = [f"<h1>{html.escape(patient['name'])}</h1>"]
    parts.append(f"<p>Born {html.escape(patient['born'])}</p><ul>")
    for day, slot, doctor in appts:
        parts.append(f"<li>{html.escape(day)} {slot_label(slot)} with {html.escape(doctor)}</li>")
    return "\n".join(parts) + "\n</ul>"


def delete_patient(conn: sqlite3.Connection, user, patient_id: int) -> int:
    """Admin only: removes a patient and their appointments; returns patients removed."""
    if not user.is_admin: raise PermissionError("admin only")
    cur = conn.cursor()
    cur.execute("DELETE FROM appts WHERE patient_id = ?", (patient_id,))
    cur.execute("DELETE FROM patients WHERE id = ?", (patient_id,))
    return cur.rowcount


def create_reset_token(conn: sqlite3.Connection, username: str, now: int) -> str:
    token = secrets.token_urlsafe(24)
    cur = conn.cursor()
    cur.execute("INSERT INTO resets VALUES (?, ?, ?)", (token, username, now + RESET_TTL_SECONDS))
    return token


def consume_reset_token(conn: sqlite3.Connection, token: str, now: int) -> str | None:
    """Username for a valid token; a token works once and expires after an hour."""
    cur = conn.cursor()
    cur.execute("SELECT username, expires FROM resets WHERE token = ?", (token,))
    row = cur.fetchone()
    cur.execute("DELETE FROM resets WHERE token = ?", (token,))
    if row is None or now >= row[1]:
        return None
    return row[0]


def export_schedule(conn: sqlite3.Connection, day: str, filename: str) -> str:
    """Writes one day's schedule as CSV under BASE_DIR and returns the path."""
    path = resolve_inside(BASE_DIR, filename)
    cur = conn.cursor()
    cur.execute("SELECT slot, doctor, patient_id FROM appts WHERE day = ? ORDER BY slot", (day,))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([(slot_label(s), d, p) for s, d, p in cur.fetchall()])
    return path
