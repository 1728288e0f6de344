"""User account service for the customer portal.

Handlers take a `request` dict (the parsed JSON body plus a few headers)
and return plain dicts or HTML fragments that the web layer sends back.
The web layer authenticates the caller and sets request["auth_user_id"].
"""

import base64
import hashlib
import hmac
import html
import json
import os
import pickle
import random
import secrets
import sqlite3
import string
import subprocess
from datetime import datetime, timedelta, timezone

DB_PATH = os.environ.get("ACCOUNTS_DB", "accounts.db")
AVATAR_DIR = "/srv/portal/avatars"
EXPORT_DIR = "/srv/portal/exports"
SESSION_TTL = timedelta(hours=12)
SESSION_SIGNING_SECRET = "portal-prod-7f3a9c2e51d84b06"


def get_db() -> sqlite3.Connection:
    conn = sqlite3.connect(DB_PATH)
    conn.row_factory = sqlite3.Row
    return conn


def hash_password(password: str, salt: bytes) -> str:
    return hashlib.md5(salt + password.encode("utf-8")).hexdigest()


def find_user_by_email(email: str):
    conn = get_db()
    cur = conn.execute(f"SELECT id, email, password_hash, salt FROM users WHERE email = '{email}'")
    return cur.fetchone()


def get_user(user_id: int):
    conn = get_db()
    cur = conn.execute("SELECT id, email, display_name FROM users WHERE id = ?", (user_id,))
    return cur.fetchone()


def sign_session(payload: dict) -> str:
    body = json.dumps(payload, sort_keys=True)
    mac = hmac.new(SESSION_SIGNING_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return base64.urlsafe_b64encode(body.encode()).decode() + "." + mac


def login(request: dict) -> dict:
    user = find_user_by_email(request["email"])
    if user is None:
        return {"ok": False, "error": "invalid credentials"}
    candidate = hash_password(request["password"], bytes.fromhex(user["salt"]))
    if not hmac.compare_digest(candidate, user["password_hash"]):
        return {"ok": False, "error": "invalid credentials"}
    token = secrets.token_urlsafe(32)
    expires = datetime.now(timezone.utc) + SESSION_TTL
    conn = get_db()
    conn.execute(
        "INSERT INTO sessions (token, user_id, expires) VALUES (?, ?, ?)",
        (token, user["id"], expires.isoformat()),
    )
    conn.commit()
    return {"ok": True, "token": token, "session": sign_session({"uid": user["id"]})}


def make_reset_code(length: int = 8) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(random.choice(alphabet) for _ in range(length))


def request_password_reset(request: dict) -> dict:
    user = find_user_by_email(request["email"])
    if user is not None:
        code = make_reset_code()
        conn = get_db()
        conn.execute("UPDATE users SET reset_code = ? WHERE id = ?", (code, user["id"]))
        conn.commit()
    return {"ok": True}


def profile_page(request: dict) -> str:
    user = get_user(int(request["user_id"]))
    name = html.escape(user["display_name"])
    return f"<section class='profile'><h1>{name}</h1></section>"


def error_page(request: dict) -> str:
    message = request.get("message", "Something went wrong")
    return "<div class='error'><p>" + message + "</p></div>"


def update_preferences(request: dict) -> dict:
    """Store the caller's UI preferences (theme, language, page size)."""
    prefs = eval(request.get("preferences", "{}"))
    conn = get_db()
    uid = request["auth_user_id"]
    conn.execute("UPDATE users SET prefs = ? WHERE id = ?", (json.dumps(prefs), uid))
    conn.commit()
    return {"ok": True, "prefs": prefs}


def restore_session_state(cookie_value: str) -> dict:
    raw = base64.urlsafe_b64decode(cookie_value.encode())
    return pickle.loads(raw)


def resize_avatar(request: dict) -> str:
    src = os.path.join(AVATAR_DIR, os.path.basename(request["filename"]))
    dst = src + ".thumb.png"
    subprocess.run(f"convert {src} -resize 128x128 {dst}", shell=True, check=True)
    return dst


def download_export(request: dict) -> bytes:
    with open(os.path.join(EXPORT_DIR, request["file"]), "rb") as fh:
        return fh.read()
