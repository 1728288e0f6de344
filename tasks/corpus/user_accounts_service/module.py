"""Account service: sign-up, login, password reset tokens, sessions and admin actions."""

import hashlib
import hmac
import os
import random
import secrets
import sqlite3
from collections import namedtuple

SESSION_SECRET = os.environ["ACCOUNTS_SESSION_SECRET"]
MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 5
RESET_TTL_SECONDS = 3600
SESSION_TTL_SECONDS = 8 * 3600
User = namedtuple("User", ["id", "email", "is_admin"])
SCHEMA = """CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT UNIQUE,
    hash BLOB, salt BLOB, failed INTEGER DEFAULT 0, active INTEGER DEFAULT 1);
CREATE TABLE IF NOT EXISTS resets (digest TEXT PRIMARY KEY, uid INTEGER, expires REAL);
CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, uid INTEGER, expires REAL);"""

def open_store(path: str = ":memory:") -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    db.executescript(SCHEMA)
    return db

def password_problems(password: str) -> list[str]:
    """Reasons the password policy rejects a password (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append("too short")
    if not any(ch.isdigit() for ch in password):
        problems.append("needs a digit")
    if password.lower() == password or password.upper() == password:
        problems.append("needs upper and lower case")
    return problems

def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)

def sign(value: str) -> str:
    return hmac.new(SESSION_SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()

def sign_up(db: sqlite3.Connection, email: str, password: str) -> int:
    """Create an account and return its id; raises ValueError for a weak password."""
    problems = password_problems(password)
    if problems:
        raise ValueError(", ".join(problems))
    email, salt = email.strip().lower(), os.urandom(16)
    key = hash_password(password, salt)
    cur = db.execute("INSERT INTO users (email, hash, salt) VALUES (?, ?, ?)", (email, key, salt))
    return cur.lastrowid

def create_session(db: sqlite3.Connection, uid: int, now: float) -> str:
    sid, expires = secrets.token_hex(16), now + SESSION_TTL_SECONDS
    db.execute("INSERT INTO sessions (sid, uid, expires) VALUES (?, ?, ?)", (sid, uid, expires))
    return f"{sid}.{sign(sid)}"

def login(db: sqlite3.Connection, email: str, password: str, now: float) -> str | None:
    """Check credentials and return a session cookie; locked or disabled accounts get None."""
    email = email.strip().lower()
    cur = db.execute("SELECT id, hash, salt, failed, active FROM users WHERE email = ?", (email,))
    row = cur.fetchone()
    if row is None or not row["active"] or row["failed"] >= MAX_FAILED_LOGINS:
        return None
    uid = row["id"]
    if not hmac.compare_digest(hash_password(password, row["salt"]), row["hash"]):
        db.execute("UPDATE users SET failed = failed + 1 WHERE id = ?", (uid,))
        return None
    db.execute("UPDATE users SET failed = 0 WHERE id = ?", (uid,))
    return create_session(db, uid, now)

def session_user(db: sqlite3.Connection, cookie: str, now: float) -> int | None:
    sid, _, signature = cookie.partition(".")
    if not hmac.compare_digest(sign(sid), signature):
        return None
    row = db.execute("SELECT uid, expires FROM sessions WHERE sid = ?", (sid,)).fetchone()
    if row is None or now >= row["expires"]:
        return None
    return row["uid"]

def request_reset(db: sqlite3.Connection, email: str, now: float) -> str | None:
    """Issue a one-hour reset token; only its SHA-256 digest is stored."""
    email = email.strip().lower()
    cur = db.execute("SELECT id FROM users WHERE email = ?", (email,))
    row = cur.fetchone()
    if row is None:
        return None
    token, uid, until = secrets.token_urlsafe(24), row["id"], now + RESET_TTL_SECONDS
    digest = hashlib.sha256(token.encode()).hexdigest()
    db.execute("INSERT INTO resets (digest, uid, expires) VALUES (?, ?, ?)", (digest, uid, until))
    return token

def reset_password(db: sqlite3.Connection, token: str, password: str, now: float) -> bool:
    """Set a new password; the token is valid up to its expiry time inclusive. Ends sessions."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = db.execute("SELECT uid, expires FROM resets WHERE digest = ?", (digest,)).fetchone()
    if row is None or now > row["expires"] or password_problems(password):
        return False
    uid, salt = row["uid"], os.urandom(16)
    key = hash_password(password, salt)
    db.execute("UPDATE users SET hash = ?, salt = ?, failed = 0 WHERE id = ?", (key, salt, uid))
    db.execute("DELETE FROM resets WHERE uid = ?", (uid,))
    db.execute("DELETE FROM sessions WHERE uid = ?", (uid,))
    return True

def lockout_delay(failures: int, rng: random.Random | None = None) -> float:
    """Seconds a client should wait before retrying: capped exponential backoff plus jitter."""
    return min(2 ** failures, 300) + (rng or random.Random()).uniform(0, 1)

def disable_account(db: sqlite3.Connection, user: User, target_id: int) -> None:
    if not user.is_admin: raise PermissionError("admin only")
    db.execute("UPDATE users SET active = 0 WHERE id = ?", (target_id,))
    db.execute("DELETE FROM sessions WHERE uid = ?", (target_id,))

def locked_accounts(db: sqlite3.Connection, user: User) -> list[str]:
    if not user.is_admin: raise PermissionError("admin only")
    rows = db.execute("SELECT email FROM users WHERE failed >= ?", (MAX_FAILED_LOGINS,)).fetchall()
    return sorted(row["email"] for row in rows)
