"""Support ticket API backend: customers open, read, edit and answer their own tickets, support
staff work the queue; tickets in SQLite, attachments behind signed short-lived links, HTML views,
API tokens and webhooks to chat and paging integrations."""
import base64
import hashlib
import hmac
import html
import json
import logging
import os
import random
import secrets
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("tickets")

BASE_DIR = os.environ.get("TICKET_ATTACHMENT_DIR", "/var/lib/tickets/attachments")
WEBHOOK_SECRET = os.environ.get("TICKET_WEBHOOK_SECRET", "")
LINK_SECRET = os.environ["TICKET_LINK_SECRET"]
WEBHOOK_HOSTS = frozenset({"hooks.chat.example", "events.pager.example"})
LINK_MAX_AGE = 15 * 60
PRIORITIES = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
EDITABLE_FIELDS = {"title", "priority"}


@dataclass
class Caller:
    user_id: int
    is_admin: bool = False
    is_staff: bool = False
    is_active: bool = True


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


def _ticket(row: tuple) -> dict:
    return {"id": row[0], "author_id": row[1], "title": row[2], "priority": row[3], "status": row[4]}


def get_ticket(db: sqlite3.Connection, ticket_id: int) -> dict | None:
    """Any ticket by id, for staff views and internal use (callers check access)."""
    cur = db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    row = cur.fetchone()
    return None if row is None else _ticket(row)


def my_ticket(db: sqlite3.Connection, caller: Caller, ticket_id: int) -> dict | None:
    """A customer's own ticket with its conversation; None for anyone else's."""
    row = db.execute("SELECT * FROM tickets WHERE id = ? AND author_id = ?", (ticket_id, caller.user_id)).fetchone()
    if row is None:
        return None
    messages = db.execute("SELECT body FROM messages WHERE ticket_id = ? ORDER BY rowid", (row[0],)).fetchall()
    return {**_ticket(row), "messages": [body for (body,) in messages]}


def list_tickets(db: sqlite3.Connection, status: str = "open", limit: int = 50) -> list[tuple]:
    """Tickets with the status, most urgent first, then oldest first."""
    cur = db.execute("SELECT * FROM tickets WHERE status = ? ORDER BY id", (status,))
    return sorted(cur.fetchmany(limit), key=lambda row: (-row[3], row[0]))


def agent_queue(db: sqlite3.Connection, caller: Caller, status: str = "open") -> list[tuple]:
    """The staff queue: tickets with the status, unassigned or assigned to the caller."""
    if not caller.is_staff:
        raise PermissionError("support staff only")
    assigned = dict(db.execute("SELECT ticket_id, agent_id FROM assignments").fetchall())
    return [row for row in list_tickets(db, status) if assigned.get(row[0], caller.user_id) == caller.user_id]


def assign_ticket(db: sqlite3.Connection, caller: Caller, ticket_id: int, agent_id: int) -> None:
    if not caller.is_staff:
        raise PermissionError("support staff only")
    if get_ticket(db, ticket_id) is None:
        raise LookupError(f"no ticket {ticket_id}")
    db.execute("INSERT OR REPLACE INTO assignments VALUES (?, ?)", (ticket_id, agent_id))


def set_status(db: sqlite3.Connection, caller: Caller, ticket_id: int, status: str) -> None:
    """Authors may close their own tickets; only admins may reopen or change others'."""
    ticket = get_ticket(db, ticket_id)
    if ticket is None or status not in ("open", "pending", "closed"):
        raise ValueError("unknown ticket or status")
    if not caller.is_admin and (ticket["author_id"] != caller.user_id or status != "closed"):
        raise PermissionError("only admins can make this change")
    db.execute("UPDATE tickets SET status = ? WHERE id = ?", (status, ticket_id))


def delete_ticket(db: sqlite3.Connection, caller: Caller, ticket_id: int) -> bool:
    if not caller.is_admin: raise PermissionError("admin only")
    cur = db.execute("DELETE FROM tickets WHERE id = ?", (ticket_id,))
    return cur.rowcount == 1


def edit_ticket(db: sqlite3.Connection, caller: Caller, ticket_id: int, changes: dict) -> dict:
    """A customer retitles or reprioritises one of their tickets."""
    ticket = get_ticket(db, ticket_id)
    if ticket is None: raise LookupError(f"no ticket {ticket_id}")
    if ticket["author_id"] != caller.user_id: raise PermissionError("not your ticket")
    ticket.update({k: v for k, v in changes.items() if k in EDITABLE_FIELDS})
    if not str(ticket["title"]).strip() or ticket["priority"] not in PRIORITIES:
        raise ValueError("a title and a known priority are required")
    db.execute("UPDATE tickets SET author_id = ?, title = ?, priority = ?, status = ? WHERE id = ?",
               (ticket["author_id"], ticket["title"], ticket["priority"], ticket["status"], ticket_id))
    return ticket


def add_reply(db: sqlite3.Connection, caller: Caller, ticket_id: int, body: str) -> None:
    """A customer's reply on their ticket; it puts a pending ticket back in the queue."""
    ticket = get_ticket(db, ticket_id)
    if ticket is None or ticket["status"] == "closed": raise LookupError(f"no open ticket {ticket_id}")
    if ticket["author_id"] != caller.user_id: raise PermissionError("not your ticket")
    db.execute("INSERT INTO messages VALUES (?, ?, ?)", (ticket_id, caller.user_id, body))
    if ticket["status"] == "pending":
        db.execute("UPDATE tickets SET status = 'open' WHERE id = ?", (ticket_id,))


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


def _link_mac(payload: str) -> str:
    return hmac.new(LINK_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


def attachment_link(db: sqlite3.Connection, caller: Caller, ticket_id: int, filename: str, now: float) -> str:
    """A download link for an attachment of the caller's ticket, valid for LINK_MAX_AGE seconds."""
    ticket = get_ticket(db, ticket_id)
    if ticket is None: raise LookupError(f"no ticket {ticket_id}")
    if ticket["author_id"] != caller.user_id: raise PermissionError("not your ticket")
    claims = {"name": os.path.join(str(ticket_id), filename), "iat": int(now)}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    return f"/attachments/{payload}.{_link_mac(payload)}"


def open_attachment_link(link: str, now: float) -> bytes:
    """The file behind a link made by attachment_link, while the link is fresh."""
    payload, _, mac = link.rsplit("/", 1)[-1].rpartition(".")
    if not hmac.compare_digest(_link_mac(payload), mac):
        log.warning("attachment link with a bad signature: %r", link)
        raise PermissionError("bad link signature")
    claims = json.loads(base64.urlsafe_b64decode(payload))
    if now - claims["iat"] > LINK_MAX_AGE: raise PermissionError("link expired")
    return read_attachment(claims["name"])


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
    """POST a signed event to a chat or paging integration, retrying its server errors."""
    if urlsplit(url).hostname not in WEBHOOK_HOSTS:
        raise ValueError("webhook host not allowed")
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
