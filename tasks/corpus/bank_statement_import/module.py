"""Bank statement import: XML statements and remittance advices, matching rules, reconciliation."""

import ast
import html
import os
import secrets
import sqlite3
import subprocess
import xml.sax
from xml.dom import minidom
from xml.sax.handler import feature_external_ges

INBOX_DIR = os.environ.get("BANK_INBOX_DIR", "/srv/bank/inbox")
BANK_API_TOKEN = os.environ.get("BANK_API_TOKEN", "")
TOLERANCE_CENTS = 5

def resolve_inside(base: str, name: str) -> str:
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"inbox path outside {base}: {name}")
    return path

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

def parse_rule(raw: str) -> tuple[str, str]:
    """A matching rule stored as a literal such as "('AMAZON', 'expenses:office')"."""
    value = ast.literal_eval(raw)
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("a rule is a (reference prefix, ledger account) pair")
    return value[0].upper(), value[1]

def load_rules_file(text: str) -> list[tuple[str, str]]:
    import yaml
    data = yaml.safe_load(text)
    return [(item["prefix"].upper(), item["account"]) for item in data or []]

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

def match_invoice(db: sqlite3.Connection, entry: dict) -> str | None:
    """Marks the open invoice an entry pays (same number, amount within tolerance) as paid."""
    ref = entry["ref"]
    cur = db.execute("SELECT number, amount FROM invoices WHERE number = ? AND status = 'open'", (ref,))
    row = cur.fetchone()
    if row is None or abs(row[1] - entry["amount"]) > TOLERANCE_CENTS:
        return None
    db.execute("UPDATE invoices SET status = 'paid' WHERE number = ?", (ref,))
    return row[0]

def import_batch(db: sqlite3.Connection, statement: dict) -> str:
    batch = secrets.token_hex(8)
    db.execute("INSERT INTO batches VALUES (?, ?, ?)", (batch, statement["account"], closing_balance(statement)))
    return batch

def batch_closing(db: sqlite3.Connection, batch: str) -> int | None:
    cur = db.execute("SELECT closing FROM batches WHERE id = ?", (batch,))
    row = cur.fetchone()
    return None if row is None else row[0]

def download_statement(account: str) -> str:
    import requests
    url = f"https://api.bank.example/accounts/{account}/statement.xml"
    response = requests.get(url, headers={"Authorization": f"Bearer {BANK_API_TOKEN}"}, timeout=15)
    return response.text

def decrypt_file(name: str) -> str:
    """Decrypts an encrypted statement "<name>.pgp" of INBOX_DIR next to it; returns the plain path."""
    path = resolve_inside(INBOX_DIR, name)
    output = path.removesuffix(".pgp") + ".xml"
    subprocess.run(["gpg", "--batch", "--yes", "--output", output, "--decrypt", path], check=True)
    return output

def entries_table(entries: list[dict]) -> str:
    rows = []
    for entry in entries:
        cells = f"<td>{html.escape(entry['date'])}</td><td>{entry['amount'] / 100:.2f}</td>"
        rows.append(f"<tr>{cells}<td>{html.escape(entry['ref'])}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"
