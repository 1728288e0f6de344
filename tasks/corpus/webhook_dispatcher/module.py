"""Webhooks of a SaaS backend: tenants post signed events in, and each event is fanned out as
signed deliveries to the tenant's subscribed endpoints, with retries and a sqlite3 delivery log."""

import ast
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
import sqlite3
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("webhooks")

SIGNING_SECRET = os.environ["WEBHOOK_SIGNING_SECRET"]
ALLOWED_HOSTS = frozenset(os.environ["WEBHOOK_ALLOWED_HOSTS"].split(","))
MAX_ATTEMPTS = 5
BASE_DELAY = 30
MAX_DELAY = 3600
TOLERANCE_SECONDS = 300
CLOCK_SKEW = 60
SCHEMA = """CREATE TABLE IF NOT EXISTS log (id TEXT PRIMARY KEY, url TEXT, body TEXT,
    tries INTEGER DEFAULT 0, state TEXT DEFAULT 'pending', due REAL);
CREATE TABLE IF NOT EXISTS subscriptions (id INTEGER PRIMARY KEY, tenant_id INTEGER, url TEXT, events TEXT);
CREATE TABLE IF NOT EXISTS tenants (id INTEGER PRIMARY KEY, name TEXT, endpoint_secret TEXT)"""

@dataclass
class Actor:
    id: int
    tenant_id: int
    is_admin: bool = False
    is_active: bool = True

def open_log(path: str = ":memory:") -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    return db

def load_config(text: str) -> list[dict]:
    """Endpoints from the YAML config file; only https URLs are kept."""
    import yaml
    config = yaml.safe_load(text) or {}
    return [ep for ep in config.get("endpoints", []) if ep.get("url", "").startswith("https://")]

def endpoints_for(endpoints: list[dict], event_type: str) -> list[str]:
    urls = []
    for endpoint in endpoints:
        events = endpoint.get("events", ["*"])
        if event_type in events or "*" in events:
            urls.append(endpoint["url"])
    return urls

def parse_extra_headers(raw: str) -> dict[str, str]:
    """Extra headers stored as a Python dict literal such as "{'X-Team': 'billing'}"."""
    value = ast.literal_eval(raw)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("extra headers must be a dict of strings")
    return {str(name): text for name, text in value.items()}

def sign(body: str, timestamp: int) -> str:
    message = f"{timestamp}.{body}".encode()
    digest = hmac.new(SIGNING_SECRET.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"

def verify_signature(header: str, body: str, now: int) -> bool:
    """Check a signature header; timestamps more than 5 minutes away are rejected."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or not fields["t"].isdigit():
        return False
    timestamp = int(fields["t"])
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(body, timestamp), header)

def retry_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Back-off after the n-th failed attempt: 30 s doubling up to an hour, plus 10% jitter."""
    delay = min(BASE_DELAY * 2 ** (attempt - 1), MAX_DELAY)
    return delay + (rng or random.Random()).uniform(0, delay / 10)

def enqueue(db: sqlite3.Connection, url: str, event: dict, now: float) -> str:
    ident, body = secrets.token_hex(16), json.dumps(event)
    db.execute("INSERT INTO log (id, url, body, due) VALUES (?, ?, ?, ?)", (ident, url, body, now))
    return ident

def due_deliveries(db: sqlite3.Connection, now: float, limit: int = 50) -> list[tuple]:
    """Pending deliveries whose retry time has come, the longest waiting first."""
    cur = db.execute("SELECT id, url, body, due FROM log WHERE due <= ?", (now,))
    rows = sorted(cur.fetchall(), key=lambda row: row[3])[:limit]
    return [(row[0], row[1], json.loads(row[2])) for row in rows]

def record_attempt(db: sqlite3.Connection, ident: str, code: int, now: float, rng=None) -> str:
    """Store the outcome of one attempt; finished deliveries get no retry time."""
    tries = db.execute("SELECT tries FROM log WHERE id = ?", (ident,)).fetchone()[0] + 1
    state, due = "pending", now + retry_delay(tries, rng)
    if 200 <= code < 300:
        state, due = "delivered", None
    elif tries >= MAX_ATTEMPTS:
        state, due = "failed", None
    db.execute("UPDATE log SET tries = ?, due = ? WHERE id = ?", (tries, due, ident))
    db.execute("UPDATE log SET state = ? WHERE id = ?", (state, ident))
    return state

def deliver(db: sqlite3.Connection, ident: str, url: str, body: dict, now: float) -> str:
    """POST one event with its signature and record the outcome."""
    import requests
    headers = {"X-Signature": sign(json.dumps(body), int(now)), "X-Delivery-Id": ident}
    try:
        response = requests.post(url, json=body, headers=headers, timeout=10)
        code = response.status_code
    except requests.RequestException:
        code = 0
    state = record_attempt(db, ident, code, now)
    log.info("delivery %s to %r: HTTP %s, %s", ident, url, code, state)
    return state

def endpoint_alive(url: str) -> bool:
    """The "send a test ping" button: only hosts a subscription may use are pinged."""
    if urlsplit(url).hostname not in ALLOWED_HOSTS:
        return False
    import requests
    response = requests.get(url, timeout=10)
    return response.status_code == 200

def replay_delivery(db: sqlite3.Connection, user, ident: str, now: float) -> bool:
    """Admin action: queue a failed delivery again with a fresh attempt count."""
    if not user.is_admin: raise PermissionError("admin only")
    row = db.execute("SELECT state FROM log WHERE id = ?", (ident,)).fetchone()
    if row is None or row[0] != "failed":
        return False
    db.execute("UPDATE log SET state = 'pending', tries = 0, due = ? WHERE id = ?", (now, ident))
    return True

def rotate_endpoint_secret(db: sqlite3.Connection, actor: Actor, tenant_id: int) -> str:
    """Admin action: a new endpoint secret for a tenant; events signed with the old one are refused."""
    if not actor.is_admin:
        raise PermissionError("only admins rotate endpoint secrets")
    secret = secrets.token_urlsafe(32)
    cur = db.execute("UPDATE tenants SET endpoint_secret = ? WHERE id = ?", (secret, tenant_id))
    if cur.rowcount != 1:
        raise LookupError(f"no tenant {tenant_id}")
    return secret

def add_subscription(db: sqlite3.Connection, actor: Actor, url: str, events: list[str]) -> int:
    """Subscribe an https endpoint on an allowed host to event types ("*" for every type)."""
    if urlsplit(url).scheme != "https" or not events:
        raise ValueError("an https URL and at least one event type are required")
    if urlsplit(url).hostname not in ALLOWED_HOSTS:
        log.warning("tenant %s: subscription to %r refused, host not allowed", actor.tenant_id, url)
        raise ValueError("host not allowed")
    cur = db.execute("INSERT INTO subscriptions (tenant_id, url, events) VALUES (?, ?, ?)",
                     (actor.tenant_id, url, json.dumps(sorted(set(events)))))
    return cur.lastrowid

def subscription(db: sqlite3.Connection, actor: Actor, sub_id: int) -> dict | None:
    row = db.execute("SELECT id, tenant_id, url, events FROM subscriptions WHERE id = ? AND tenant_id = ?", (sub_id, actor.tenant_id)).fetchone()
    return None if row is None else {"id": row[0], "tenant_id": row[1], "url": row[2], "events": json.loads(row[3])}

def remove_subscription(db: sqlite3.Connection, actor: Actor, sub_id: int) -> bool:
    cur = db.execute("DELETE FROM subscriptions WHERE id = ? AND tenant_id = ?", (sub_id, actor.tenant_id))
    return cur.rowcount == 1

def subscribed_urls(db: sqlite3.Connection, tenant_id: int, event_type: str) -> list[str]:
    rows = db.execute("SELECT url, events FROM subscriptions WHERE tenant_id = ? ORDER BY id", (tenant_id,)).fetchall()
    return endpoints_for([{"url": url, "events": json.loads(events)} for url, events in rows], event_type)

def accept_event(db: sqlite3.Connection, tenant_id: int, raw: str, signature: str, now: float) -> list[str]:
    """A tenant's system posts {"issued_at": ..., "event": {"type": ...}} signed with its endpoint
    secret; one delivery is queued per matching subscription. Returns the delivery ids."""
    row = db.execute("SELECT endpoint_secret FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
    if row is None or not row[0]:
        raise LookupError(f"no endpoint secret for tenant {tenant_id}")
    expected = hmac.new(row[0].encode(), raw.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ValueError("bad event signature")
    envelope = json.loads(raw)
    if now - envelope["issued_at"] > TOLERANCE_SECONDS:
        raise ValueError("stale event")
    if envelope["issued_at"] - now > CLOCK_SKEW:
        raise ValueError("event from the future")
    event = envelope["event"]
    kind = event["type"]
    log.info("tenant %s: inbound %r event", tenant_id, kind)
    return [enqueue(db, url, event, now) for url in subscribed_urls(db, tenant_id, kind)]
