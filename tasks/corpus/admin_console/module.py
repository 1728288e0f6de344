"""Back-office admin console: user search, role changes, audit export and database backups."""
import csv
import hashlib
import html
import os
import random
import secrets
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from urllib.parse import urlparse

BACKUP_DIR = os.environ.get("CONSOLE_BACKUP_DIR", "/var/backups/console")
ROLES = ("viewer", "support", "admin")


@dataclass
class Actor:
    id: int
    is_admin: bool = False


def hash_password(password: str, salt: bytes | None = None) -> str:
    """PBKDF2 hash stored as 'salt$digest' in hex."""
    if salt is None:
        salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
    return salt.hex() + "$" + digest.hex()


def verify_password(password: str, stored: str) -> bool:
    salt = bytes.fromhex(stored.split("$")[0])
    return secrets.compare_digest(hash_password(password, salt), stored)


def search_users(conn: sqlite3.Connection, term: str, limit: int = 20) -> list[tuple]:
    """Users whose email contains the term, at most `limit` rows."""
    pattern = f"%{term}%"
    cur = conn.cursor()
    cur.execute("SELECT id, email, role FROM users WHERE email LIKE ?", (pattern,))
    return cur.fetchmany(limit)


def record_audit(conn: sqlite3.Connection, actor: Actor, action: str) -> None:
    conn.execute("INSERT INTO audit_log (actor_id, action) VALUES (?, ?)", (actor.id, action))


def set_role(conn: sqlite3.Connection, actor: Actor, user_id: int, role: str) -> None:
    """Change a user's role; admins only, and every change is audited."""
    if not actor.is_admin: raise PermissionError("admin only")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
    record_audit(conn, actor, f"set_role {user_id} {role}")


def delete_user(conn: sqlite3.Connection, actor: Actor, user_id: int) -> bool:
    if not actor.is_admin: raise PermissionError("admin only")
    if actor.id == user_id:
        raise ValueError("admins cannot delete their own account")
    cur = conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
    record_audit(conn, actor, f"delete_user {user_id}")
    return cur.rowcount == 1


def export_audit_csv(conn: sqlite3.Connection, after_id: int = 0) -> str:
    """Write audit rows newer than after_id to a private temporary CSV; return its path."""
    cur = conn.execute("SELECT id, actor_id, action FROM audit_log WHERE id > ?", (after_id,))
    fd, path = tempfile.mkstemp(suffix=".csv")
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "actor_id", "action"])
        writer.writerows(cur.fetchall())
    return path


def sample_for_review(rows: list, k: int, seed: int) -> list:
    return random.Random(seed).sample(rows, min(k, len(rows)))


def issue_api_token(conn: sqlite3.Connection, actor: Actor) -> str:
    """New API token for the actor; only its SHA-256 digest is stored."""
    token = secrets.token_hex(16)
    digest = hashlib.sha256(token.encode()).hexdigest()
    conn.execute("INSERT INTO api_tokens (user_id, token_hash) VALUES (?, ?)", (actor.id, digest))
    return token


def backup_database(db_path: str, stamp: str) -> str:
    """Online backup with the sqlite3 CLI into BACKUP_DIR, then gzip it."""
    target = os.path.join(BACKUP_DIR, f"console-{stamp}.db")
    command = f".backup {target}"
    subprocess.run(["sqlite3", db_path, command], check=True)
    subprocess.run(["gzip", "-f", target], check=True)
    return target + ".gz"


def users_table_html(rows: list[tuple]) -> str:
    body = []
    for user_id, email, role in rows:
        cells = f"<td>{int(user_id)}</td><td>{html.escape(email)}</td>"
        body.append(f"<tr>{cells}<td>{html.escape(role)}</td></tr>")
    return "<table>" + "".join(body) + "</table>"


def is_local_url(target: str) -> bool:
    """Only same-site paths: no scheme, no host, no protocol-relative '//' or backslashes."""
    if not target.startswith("/") or target.startswith("//"):
        return False
    parsed = urlparse(target)
    return not parsed.scheme and not parsed.netloc and "\\" not in target


def after_login_redirect(target: str | None) -> str:
    """Where to send an admin after login; foreign targets fall back to the home page."""
    if not target:
        return "/admin"
    if not is_local_url(target): target = "/"
    return target
