"""E-signature back end: envelopes routed to signers in order by expiring signed links, sealed on completion."""
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

log = logging.getLogger("esign")
LINK_SECRET = os.environ["ESIGN_LINK_SECRET"]
SEAL_SECRET = os.environ["ESIGN_SEAL_SECRET"]
LINK_TTL = 5 * 86400
STORAGE_HOSTS = frozenset({"files.cloudbox.example", "drive.docstore.example", "dms.lawfirm.example"})
EDITABLE_FIELDS = {"title", "message", "reminder_every"}
ENVELOPE_COLUMNS = ("id", "account_id", "owner_id", "title", "message", "status", "reminder_every", "callback_url", "document_sha256")
RECIPIENT_COLUMNS = ("id", "envelope_id", "user_id", "routing_order", "status")


@dataclass
class Actor:
    id: int
    account_id: int
    is_admin: bool = False


def business_days_left(today: date, expires: date) -> int:
    """Working days from tomorrow up to and including the expiry date (0 once it has passed)."""
    span = (expires - today).days
    return sum(1 for n in range(1, span + 1) if (today + timedelta(days=n)).weekday() < 5)


def reminder_dates(sent: date, expires: date, every: int) -> list[date]:
    """A reminder every ``every`` days after sending, on the days before the envelope expires."""
    if every <= 0: return []
    return [sent + timedelta(days=n) for n in range(every, (expires - sent).days, every)]


def current_signers(recipients: list[dict]) -> list[dict]:
    """Sequential routing: the unsigned recipients of the lowest routing order still open."""
    pending = [r for r in recipients if r["status"] != "signed"]
    step = min((r["routing_order"] for r in pending), default=None)
    return [r for r in pending if r["routing_order"] == step]


def envelope_status(recipients: list[dict]) -> str:
    statuses = [r["status"] for r in recipients]
    if "declined" in statuses:
        return "declined"
    if statuses and all(status == "signed" for status in statuses):
        return "completed"
    return "in_progress" if "signed" in statuses else "sent"


def contract_digest(storage, document_url: str) -> str:
    if urlsplit(document_url).hostname not in STORAGE_HOSTS: raise ValueError("the contract must come from a storage host")
    return hashlib.sha256(storage.get(document_url)).hexdigest()


def load_envelope(conn: sqlite3.Connection, envelope_id: int) -> dict:
    row = conn.execute("SELECT id, account_id, owner_id, title, message, status, reminder_every, callback_url, document_sha256 FROM envelopes WHERE id = ?", (envelope_id,)).fetchone()
    if row is None: raise LookupError(f"no envelope {envelope_id}")
    return dict(zip(ENVELOPE_COLUMNS, row))


def load_recipients(conn: sqlite3.Connection, envelope_id: int) -> list[dict]:
    rows = conn.execute("SELECT id, envelope_id, user_id, routing_order, status FROM recipients WHERE envelope_id = ? ORDER BY routing_order, id", (envelope_id,)).fetchall()
    return [dict(zip(RECIPIENT_COLUMNS, row)) for row in rows]


def view_envelope(conn: sqlite3.Connection, actor: Actor, envelope_id: int) -> tuple | None:
    return conn.execute("SELECT id, title, message, status FROM envelopes WHERE status != 'draft' AND id IN (SELECT envelope_id FROM recipients WHERE envelope_id = ? AND user_id = ?)", (envelope_id, actor.id)).fetchone()


def account_envelopes(conn: sqlite3.Connection, actor: Actor, status: str) -> list[tuple]:
    if not actor.is_admin: raise PermissionError("account admins only")
    return conn.execute("SELECT id, owner_id, title FROM envelopes WHERE status = ? AND account_id = ? ORDER BY id", (status, actor.account_id)).fetchall()


def check_manager(envelope: dict, actor: Actor) -> None:
    """Only the sender, or an admin of the envelope's account, may send, resend or void it."""
    if envelope["account_id"] != actor.account_id: raise PermissionError("envelope of another account")
    if actor.is_admin: return
    if envelope["owner_id"] != actor.id: raise PermissionError("only the sender or an account admin")


def update_envelope(conn: sqlite3.Connection, actor: Actor, envelope_id: int, changes: dict) -> dict:
    envelope = load_envelope(conn, envelope_id)
    if envelope["owner_id"] != actor.id: raise PermissionError("only the sender edits an envelope")
    if envelope["status"] != "draft": raise ValueError("only drafts can be edited")
    envelope.update({k: v for k, v in changes.items() if k in EDITABLE_FIELDS})
    conn.execute("UPDATE envelopes SET title = ?, message = ?, reminder_every = ?, status = ?, callback_url = ? WHERE id = ?",
                 (envelope["title"], envelope["message"], envelope["reminder_every"], envelope["status"], envelope["callback_url"], envelope_id))
    return envelope


def _mac(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def issue_link(purpose: str, envelope_id: int, recipient_id: int, now: float, ttl: int = LINK_TTL) -> str:
    body = json.dumps({"use": purpose, "env": envelope_id, "rcp": recipient_id, "iat": now, "exp": now + ttl})
    return body + "." + _mac(body, LINK_SECRET)


def link_claims(token: str, purpose: str) -> dict:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(_mac(body, LINK_SECRET), mac): raise ValueError("bad link signature")
    claims = json.loads(body)
    if claims["use"] != purpose: raise ValueError(f"not a {purpose} link")
    return claims


def send_links(conn: sqlite3.Connection, actor: Actor, envelope_id: int, now: float) -> list[str]:
    envelope = load_envelope(conn, envelope_id)
    check_manager(envelope, actor)
    if envelope["status"] not in ("draft", "sent", "in_progress"): raise ValueError(f"envelope is {envelope['status']}")
    conn.execute("UPDATE envelopes SET status = 'sent' WHERE id = ? AND status = 'draft'", (envelope_id,))
    log.info("envelope %s %r sent by user %s", envelope_id, envelope["title"], actor.id)
    return [issue_link("sign", envelope_id, r["id"], now) for r in current_signers(load_recipients(conn, envelope_id))]


def void_envelope(conn: sqlite3.Connection, actor: Actor, envelope_id: int, reason: str) -> None:
    envelope = load_envelope(conn, envelope_id)
    check_manager(envelope, actor)
    if envelope["status"] in ("completed", "voided"): raise ValueError(f"envelope is {envelope['status']}")
    conn.execute("UPDATE envelopes SET status = 'voided' WHERE id = ?", (envelope_id,))
    log.info("envelope %s voided by user %s: %r", envelope_id, actor.id, reason)


def open_signing_link(conn: sqlite3.Connection, token: str, now: float) -> dict:
    claims = link_claims(token, "sign")
    if claims["exp"] <= now: raise ValueError("signing link expired")
    if load_envelope(conn, claims["env"])["status"] not in ("sent", "in_progress"): raise ValueError("envelope is closed")
    turn = {r["id"]: r for r in current_signers(load_recipients(conn, claims["env"]))}
    if claims["rcp"] not in turn: raise ValueError("not this recipient's turn")
    return turn[claims["rcp"]]


def notify_storage(storage, envelope: dict, seal_value: str) -> bool:
    url = envelope["callback_url"]
    if urlsplit(url).hostname not in STORAGE_HOSTS: return False
    storage.post(url, json.dumps({"envelope_id": envelope["id"], "seal": seal_value}).encode())
    return True


def record_signature(conn: sqlite3.Connection, storage, token: str, now: float) -> str:
    recipient = open_signing_link(conn, token, now)
    conn.execute("UPDATE recipients SET status = 'signed' WHERE id = ?", (recipient["id"],))
    envelope = load_envelope(conn, recipient["envelope_id"])
    status = envelope_status(load_recipients(conn, envelope["id"]))
    seal_value = _mac(f"{envelope['id']}:{envelope['document_sha256']}", SEAL_SECRET) if status == "completed" else None
    conn.execute("UPDATE envelopes SET status = ?, seal = ? WHERE id = ?", (status, seal_value, envelope["id"]))
    if seal_value is not None:
        notify_storage(storage, envelope, seal_value)
    return status


def decline(conn: sqlite3.Connection, token: str, now: float, reason: str) -> None:
    recipient = open_signing_link(conn, token, now)
    conn.execute("UPDATE recipients SET status = 'declined' WHERE id = ?", (recipient["id"],))
    conn.execute("UPDATE envelopes SET status = 'declined' WHERE id = ?", (recipient["envelope_id"],))
    log.info("recipient %s declined envelope %s: %r", recipient["id"], recipient["envelope_id"], reason)


def verify_certificate(envelope_id: int, document: bytes, presented: str) -> bool:
    expected = _mac(f"{envelope_id}:{hashlib.sha256(document).hexdigest()}", SEAL_SECRET)
    return hmac.compare_digest(expected, presented)
