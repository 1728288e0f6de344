"""Bank statement import of a multi-company accounting back office: signed statement deliveries,
remittance advices, matching rules, invoice reconciliation and write-offs, auditors' links. Every
batch, entry, invoice and rule belongs to one company (tenant) and only its users see or change it."""

import ast
import hashlib
import hmac
import html
import logging
import os
import secrets
import sqlite3
import urllib.request
import xml.sax
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.dom import minidom
from xml.sax.handler import feature_external_ges

audit = logging.getLogger("bank_import.audit")

INBOX_DIR = os.environ.get("BANK_INBOX_DIR", "/srv/bank/inbox")
WEBHOOK_SECRET = os.environ["BANK_WEBHOOK_SECRET"]
LINK_SECRET = os.environ["AUDITOR_LINK_SECRET"]
DOCUMENT_HOSTS = frozenset({"docs.bank.example", "remittance.bank.example"})
TOLERANCE_CENTS = 5
DELIVERY_WINDOW = 300
LINK_MAX_AGE = 14 * 86400
INVOICE_FIELDS = {"customer", "amount", "due"}
INVOICE_COLUMNS = ("number", "customer", "amount", "due", "status")
BATCH_COLUMNS = ("id", "tenant_id", "account", "closing")

@dataclass
class Actor:
    id: int
    tenant_id: int
    is_approver: bool = False  # accountant: posts payment matches
    is_manager: bool = False  # finance manager: writes invoices off
    is_admin: bool = False  # maintains the company's matching rules
    is_active: bool = True

def resolve_inside(base: str, name: str) -> str:
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"inbox path outside {base}: {name}")
    return path

def read_inbox(name: str) -> str:
    """A statement file the bank dropped into the SFTP inbox."""
    with open(resolve_inside(INBOX_DIR, name), encoding="utf-8") as handle:
        return handle.read()

def first_text(node, tag: str) -> str:
    found = node.getElementsByTagName(tag)
    return "".join(n.data for n in found[0].childNodes if n.nodeType == n.TEXT_NODE).strip() if found else ""

def parse_statement(text: str) -> dict:
    """Account, opening balance and entries (date, amount in cents, debits negative, reference)."""
    statement_parser = xml.sax.make_parser()
    statement_parser.setFeature(feature_external_ges, False)
    root = minidom.parseString(text, statement_parser).documentElement
    entries = []
    for node in root.getElementsByTagName("entry"):
        amount = int(first_text(node, "amount"))
        if node.getAttribute("type") == "debit":
            amount = -amount
        entries.append({"date": first_text(node, "date"), "amount": amount, "ref": first_text(node, "ref")})
    opening = int(first_text(root, "opening") or "0")
    return {"account": first_text(root, "account"), "opening": opening, "entries": entries}

def closing_balance(statement: dict) -> int:
    balance = statement["opening"]
    for entry in statement["entries"]:
        balance += entry["amount"]
    return balance

def parse_remittance(text: str) -> dict[str, int]:
    advice_parser = xml.sax.make_parser()
    advice_parser.setFeature(feature_external_ges, False)
    root = minidom.parseString(text, advice_parser).documentElement
    paid: dict[str, int] = {}
    for invoice in root.getElementsByTagName("invoice"):
        number = first_text(invoice, "number")
        paid[number] = paid.get(number, 0) + int(first_text(invoice, "amount"))
    return paid

def _download(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(1_000_000).decode("utf-8")

def fetch_remittance(url: str) -> dict[str, int]:
    """A remittance advice linked from a statement entry, fetched only from the bank's document hosts."""
    if urlsplit(url).scheme != "https": raise ValueError("remittance links must use https")
    if urlsplit(url).hostname not in DOCUMENT_HOSTS:
        audit.warning("remittance link to %r refused", url)
        raise ValueError("remittance host not allowed")
    return parse_remittance(_download(url))

def parse_rule(raw: str) -> tuple[str, str]:
    """A matching rule stored as a literal such as "('AMAZON', 'expenses:office')"."""
    value = ast.literal_eval(raw)
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("a rule is a (reference prefix, ledger account) pair")
    return value[0].upper(), value[1]

def add_rule(db: sqlite3.Connection, actor: Actor, raw: str) -> None:
    if not actor.is_admin: raise PermissionError("only admins maintain matching rules")
    db.execute("INSERT INTO rules (tenant_id, prefix, account) VALUES (?, ?, ?)", (actor.tenant_id, *parse_rule(raw)))

def categorise(entries: list[dict], rules: list[tuple[str, str]]) -> list[str]:
    """Ledger account per entry: the first rule whose prefix starts the reference, else suspense."""
    accounts = []
    for entry in entries:
        account = "suspense"
        for prefix, target in rules:
            if entry["ref"].upper().startswith(prefix):
                account = target
                break
        accounts.append(account)
    return accounts

def home_amount(db: sqlite3.Connection, amount: int, currency: str) -> int:
    """An amount of a foreign-currency account in the home currency (rates in parts per million)."""
    cur = db.execute("SELECT rate_ppm FROM fx_rates WHERE currency = ?", (currency,))
    row = cur.fetchone()
    if row is None: raise LookupError(f"no exchange rate for {currency}")
    return round(amount * row[0] / 1_000_000)

def match_invoice(db: sqlite3.Connection, actor: Actor, entry: dict) -> str | None:
    """Marks the company's open invoice an entry pays (same number, amount within tolerance) as paid."""
    if not actor.is_approver: raise PermissionError("only accountants post payment matches")
    ref, amount = entry["ref"], entry["amount"]
    row = db.execute("SELECT number, amount FROM invoices WHERE number = ? AND status = 'open' AND tenant_id = ?", (ref, actor.tenant_id)).fetchone()
    if row is None or abs(row[1] - amount) > TOLERANCE_CENTS:
        audit.info("no open invoice for payer reference %r (%r cents)", ref, amount)
        return None
    db.execute("UPDATE invoices SET status = 'paid' WHERE number = ? AND tenant_id = ?", (ref, actor.tenant_id))
    return row[0]

def write_off(db: sqlite3.Connection, actor: Actor, number: str, reason: str) -> None:
    if not actor.is_manager: raise PermissionError("only finance managers write invoices off")
    cur = db.execute("UPDATE invoices SET status = 'written_off' WHERE number = ? AND status = 'open' AND tenant_id = ?", (number, actor.tenant_id))
    if cur.rowcount == 0: raise LookupError(f"no open invoice {number}")
    audit.info("invoice %r written off by user %r: %r", number, actor.id, reason)

def update_invoice(db: sqlite3.Connection, actor: Actor, number: str, changes: dict) -> dict:
    """Edits an open invoice of the user's company; only the fields of INVOICE_FIELDS change."""
    row = db.execute("SELECT number, customer, amount, due, status FROM invoices WHERE number = ? AND tenant_id = ?", (number, actor.tenant_id)).fetchone()
    if row is None: raise LookupError(f"no invoice {number}")
    invoice = dict(zip(INVOICE_COLUMNS, row))
    if invoice["status"] != "open": raise ValueError("only open invoices can be edited")
    for key in INVOICE_FIELDS & changes.keys():
        invoice[key] = changes[key]
    db.execute("UPDATE invoices SET customer = ?, amount = ?, due = ?, status = ? WHERE number = ? AND tenant_id = ?",
               (invoice["customer"], invoice["amount"], invoice["due"], invoice["status"], number, actor.tenant_id))
    return invoice

def import_batch(db: sqlite3.Connection, tenant_id: int, statement: dict) -> str:
    batch = secrets.token_hex(8)
    db.execute("INSERT INTO batches VALUES (?, ?, ?, ?)", (batch, tenant_id, statement["account"], closing_balance(statement)))
    db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?)",
                   [(batch, tenant_id, e["date"], e["amount"], e["ref"]) for e in statement["entries"]])
    return batch

def load_batch(db: sqlite3.Connection, batch_id: str) -> dict | None:
    """Any batch by id, for internal use: callers check the company."""
    cur = db.execute("SELECT id, tenant_id, account, closing FROM batches WHERE id = ?", (batch_id,))
    row = cur.fetchone()
    return None if row is None else dict(zip(BATCH_COLUMNS, row))

def batch_closing(db: sqlite3.Connection, actor: Actor, batch_id: str) -> int | None:
    row = db.execute("SELECT closing FROM batches WHERE id = ? AND tenant_id = ?", (batch_id, actor.tenant_id)).fetchone()
    return None if row is None else row[0]

def batch_entries(db: sqlite3.Connection, actor: Actor, batch_id: str) -> list[dict]:
    rows = db.execute("SELECT date, amount, ref FROM entries WHERE batch = ? AND tenant_id = ?", (batch_id, actor.tenant_id)).fetchall()
    return [{"date": date, "amount": amount, "ref": ref} for date, amount, ref in rows]

def discard_batch(db: sqlite3.Connection, actor: Actor, batch_id: str) -> None:
    """Removes an imported batch and its entries (a statement delivered twice or to the wrong company)."""
    if not actor.is_approver: raise PermissionError("only accountants discard imported batches")
    batch = load_batch(db, batch_id)
    if batch is None: raise LookupError(f"no batch {batch_id}")
    if batch["tenant_id"] != actor.tenant_id: raise PermissionError("batch of another company")
    db.execute("DELETE FROM entries WHERE batch = ?", (batch["id"],))
    db.execute("DELETE FROM batches WHERE id = ?", (batch["id"],))

def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()

def receive_delivery(db: sqlite3.Connection, body: str, signature_header: str, now: float) -> str:
    """Statement-delivery webhook, signed "t=<unix time>,v1=<HMAC of '<t>.<body>'>": imports for the account's company."""
    fields = dict(part.strip().split("=", 1) for part in signature_header.split(",") if "=" in part)
    header = {"issued_at": int(fields.get("t") or "0"), "signature": fields.get("v1", "")}
    given = header["signature"]
    if not hmac.compare_digest(_mac(WEBHOOK_SECRET, f"{header['issued_at']}.{body}"), given): raise ValueError("bad delivery signature")
    if now - header["issued_at"] > DELIVERY_WINDOW: raise ValueError("delivery outside the replay window")
    statement = parse_statement(body)
    row = db.execute("SELECT tenant_id FROM accounts WHERE iban = ?", (statement["account"],)).fetchone()
    if row is None: raise LookupError(f"no company holds account {statement['account']}")
    return import_batch(db, row[0], statement)

def auditor_link(db: sqlite3.Connection, actor: Actor, batch_id: str, now: int) -> str:
    """A read-only link to one of the company's batches for its external auditor."""
    if batch_closing(db, actor, batch_id) is None: raise LookupError(f"no batch {batch_id}")
    payload = f"{batch_id}:{now}:{now + LINK_MAX_AGE}"
    return f"{payload}:{_mac(LINK_SECRET, payload)}"

def linked_batch(token: str, now: float) -> str:
    """The batch an auditor's link opens; forged and expired links are refused."""
    payload, _, given = token.rpartition(":")
    if not hmac.compare_digest(_mac(LINK_SECRET, payload), given): raise ValueError("bad link signature")
    batch_id, issued_at, expires = payload.split(":")
    link = {"batch": batch_id, "issued_at": int(issued_at), "expires": int(expires)}
    if link["expires"] <= now: raise ValueError("auditor link expired")
    return link["batch"]

def entries_table(entries: list[dict]) -> str:
    rows = []
    for entry in entries:
        cells = f"<td>{html.escape(entry['date'])}</td><td>{entry['amount'] / 100:.2f}</td>"
        rows.append(f"<tr>{cells}<td>{html.escape(entry['ref'])}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"
