"""Support ticket API backend: tickets in SQLite, HTML views, attachments, tokens, webhooks."""
import hashlib
import hmac
import html
import json
import os
import random
import secrets
import sqlite3
import time
from dataclasses import dataclass

BASE_DIR = os.environ.get("TICKET_ATTACHMENT_DIR", "/var/lib/tickets/attachments")
WEBHOOK_SECRET = os.environ.get("TICKET_WEBHOOK_SECRET", "")
PRIORITIES = {1: "low", 2: "normal", 3: "high", 4: "urgent"}


@dataclass
class Caller:
    user_id: int
    is_admin: bool = False


def resolve_inside(base: str, name: str) -> str:
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"attachment path escapes its folder: {name!r}")
    return path


def open_ticket(db: sqlite3.Connection, caller: Caller, title: str, body: str, priority=2) -> int:
    if not title.strip() or priority not in PRIORITIES:
        raise ValueError("a title and a known priority are required")
    uid = caller.user_id
    cur = db.execute("INSERT INTO tickets VALUES (NULL, ?, ?, ?, 'open')", (uid, title, priority))
    db.execute("INSERT INTO messages VALUES (?, ?, ?)", (cur.lastrowid, uid, body))
    return cur.lastrowid


def get_ticket(db: sqlite3.Connection, ticket_id: int) -> dict | None:
    cur = db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    row = cur.fetchone()
    if row is None:
        return None
    return {"id": row[0], "author": row[1], "title": row[2], "priority": row[3], "status": row[4]}


def list_tickets(db: sqlite3.Connection, status: str = "open", limit: int = 50) -> list[tuple]:
    """Tickets with the status, most urgent first, then oldest first."""
    cur = db.execute("SELECT * FROM tickets WHERE status = ? ORDER BY id", (status,))
    return sorted(cur.fetchmany(limit), key=lambda row: (-row[3], row[0]))


def set_status(db: sqlite3.Connection, caller: Caller, ticket_id: int, status: str) -> None:
    """Authors may close their own tickets; only admins may reopen or change others'."""
    ticket = get_ticket(db, ticket_id)
    if ticket is None or status not in ("open", "pending", "closed"):
        raise ValueError("unknown ticket or status")
    if not caller.is_admin and (ticket["author"] != caller.user_id or status != "closed"):
        raise PermissionError("only admins can make this change")
    db.execute("UPDATE tickets SET status = ? WHERE id = ?", (status, ticket_id))


def delete_ticket(db: sqlite3.Connection, caller: Caller, ticket_id: int) -> bool:
    if not caller.is_admin: raise PermissionError("admin only")
    cur = db.execute("DELETE FROM tickets WHERE id = ?", (ticket_id,))
    return cur.rowcount == 1


def save_attachment(ticket_id: int, filename: str, data: bytes) -> str:
    """Store the file in BASE_DIR/<ticket id>/ and return the name read_attachment takes."""
    if len(data) > 2_000_000:
        raise ValueError("attachment too large")
    name = os.path.join(str(ticket_id), filename)
    path = resolve_inside(BASE_DIR, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return name


def read_attachment(name: str) -> bytes:
    path = resolve_inside(BASE_DIR, name)
    with open(path, "rb") as handle:
        return handle.read()


def issue_token(db: sqlite3.Connection, owner: Caller) -> str:
    token = secrets.token_urlsafe(24)
    digest = hashlib.sha256(token.encode()).hexdigest()
    db.execute("INSERT INTO api_tokens VALUES (?, ?, ?)", (digest, owner.user_id, owner.is_admin))
    return token


def authenticate(db: sqlite3.Connection, token: str) -> Caller | None:
    presented = hashlib.sha256(token.encode()).hexdigest()
    cur = db.execute("SELECT user_id, is_admin FROM api_tokens WHERE digest = ?", (presented,))
    row = cur.fetchone()
    return None if row is None else Caller(row[0], bool(row[1]))


def render_ticket(ticket: dict, messages: list[str]) -> str:
    heading = f"<h1>#{int(ticket['id'])} {html.escape(ticket['title'])}</h1>"
    meta = f"<p>{PRIORITIES[ticket['priority']]} {html.escape(ticket['status'])}</p>"
    items = "".join(f"<li>{html.escape(message)}</li>" for message in messages)
    return f"{heading}{meta}<ul>{items}</ul>"


def notify_webhook(url: str, event: dict, attempts: int = 3) -> bool:
    import requests
    body = json.dumps(event, sort_keys=True).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Signature": signature}
    for attempt in range(attempts):
        response = requests.post(url, data=body, headers=headers, timeout=10)
        if response.status_code < 500:
            return response.ok
        time.sleep(2 ** attempt + random.random())
    return False
