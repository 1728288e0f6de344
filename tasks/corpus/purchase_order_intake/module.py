"""Purchase order intake: partner XML orders, price lists and dispatch notes into SQLite."""

import html
import os
import random
import secrets
import sqlite3
import subprocess
import xml.sax
from xml.dom import minidom
from xml.sax.handler import feature_external_ges

ARCHIVE_DIR = os.environ.get("PO_ARCHIVE_DIR", "/var/lib/po/archive")
PARTNER_TOKEN = os.environ.get("PO_PARTNER_TOKEN", "")
MAX_LINES = 200

def resolve_inside(base: str, name: str) -> str:
    """Absolute path of `name` inside `base`; ValueError when it would leave `base`."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"archive path outside {base}: {name}")
    return path

def text_of(node, tag: str, default: str = "") -> str:
    """Stripped text of the first `tag` element under `node`; `default` when there is none."""
    found = node.getElementsByTagName(tag)
    if not found:
        return default
    return "".join(child.data for child in found[0].childNodes if child.nodeType == child.TEXT_NODE).strip()

def parse_order(text: str) -> dict:
    """Reference, partner code and lines (sku, quantity, unit price in cents) of an order."""
    order_parser = xml.sax.make_parser()
    order_parser.setFeature(feature_external_ges, False)
    root = minidom.parseString(text, order_parser).documentElement
    if root.tagName != "order":
        raise ValueError("not a purchase order")
    lines = []
    for node in root.getElementsByTagName("line"):
        qty = int(node.getAttribute("qty"))
        if qty <= 0:
            raise ValueError("quantities must be positive")
        lines.append({"sku": node.getAttribute("sku"), "qty": qty, "price": int(text_of(node, "price"))})
    if not lines or len(lines) > MAX_LINES:
        raise ValueError(f"an order has 1 to {MAX_LINES} lines")
    return {"ref": text_of(root, "ref"), "partner": text_of(root, "partner"), "lines": lines}

def order_total(order: dict) -> int:
    total = 0
    for line in order["lines"]:
        total += line["qty"] * line["price"]
    return total

def parse_price_list(text: str) -> tuple[str, dict[str, int]]:
    """Currency and unit prices in cents by SKU; a later entry for a SKU replaces an earlier one."""
    price_parser = xml.sax.make_parser()
    price_parser.setFeature(feature_external_ges, False)
    root = minidom.parseString(text, price_parser).documentElement
    prices = {}
    for item in root.getElementsByTagName("item"):
        prices[item.getAttribute("sku")] = int(text_of(item, "cents", "0"))
    return text_of(root, "currency", "EUR"), prices

def parse_dispatch_note(text: str) -> list[tuple[str, str]]:
    """(order reference, tracking code) of every parcel of a dispatch note."""
    note_parser = xml.sax.make_parser()
    note_parser.setFeature(feature_external_ges, False)
    root = minidom.parseString(text, note_parser).documentElement
    return [(text_of(parcel, "ref"), text_of(parcel, "tracking")) for parcel in root.getElementsByTagName("parcel")]

def store_order(db: sqlite3.Connection, order: dict) -> str:
    """Saves a new order under a fresh internal id; a reference seen before is rejected."""
    ref = order["ref"]
    cur = db.execute("SELECT id FROM orders WHERE ref = ?", (ref,))
    if cur.fetchone() is not None:
        raise ValueError(f"duplicate order {ref}")
    ident = secrets.token_hex(8)
    db.execute("INSERT INTO orders VALUES (?, ?, ?, ?, 'open', NULL)", (ident, ref, order["partner"], order_total(order)))
    return ident

def mark_dispatched(db: sqlite3.Connection, note: list[tuple[str, str]]) -> int:
    """Records tracking codes; returns how many open orders became dispatched."""
    count = 0
    for ref, tracking in note:
        cur = db.execute("SELECT status FROM orders WHERE ref = ?", (ref,))
        row = cur.fetchone()
        if row is None or row[0] != "open":
            continue
        db.execute("UPDATE orders SET status = 'dispatched', tracking = ? WHERE ref = ?", (tracking, ref))
        count += 1
    return count

def cancel_order(db: sqlite3.Connection, user, ref: str) -> bool:
    if not user.is_admin: raise PermissionError("admin only")
    cur = db.execute("DELETE FROM orders WHERE ref = ?", (ref,))
    return cur.rowcount == 1

def fetch_price_list(url: str) -> tuple[str, dict[str, int]]:
    import requests
    response = requests.get(url, headers={"Authorization": f"Bearer {PARTNER_TOKEN}"}, timeout=10)
    response.raise_for_status()
    return parse_price_list(response.text)

def archive_document(name: str, body: bytes) -> str:
    """Keeps a raw partner document under ARCHIVE_DIR, gzip-compressed; returns its path."""
    path = resolve_inside(ARCHIVE_DIR, name)
    with open(path, "wb") as handle:
        handle.write(body)
    subprocess.run(["gzip", "-f", path], check=True)
    return path + ".gz"

def audit_sample(refs: list[str], k: int, rng: random.Random | None = None) -> list[str]:
    """Orders picked for a manual audit (a random pick, nothing secret depends on it)."""
    return sorted((rng or random.Random()).sample(refs, min(k, len(refs))))

def confirmation_page(order: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(line['sku'])}</td><td>{int(line['qty'])}</td></tr>" for line in order["lines"])
    return f"<h1>Order {html.escape(order['ref'])}</h1><p>Total {order_total(order) / 100:.2f}</p><table>{rows}</table>"
