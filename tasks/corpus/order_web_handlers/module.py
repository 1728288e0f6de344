"""Order page handlers: request dicts {"args", "form", "session", "user"} built from client
input go in, response dicts {"status", "headers", "body"} come out."""

import hashlib
import hmac
import html
import json
import os
import random
import secrets
from urllib.parse import urlparse

BASE_DIR = os.environ.get("SHOP_INVOICE_DIR", "/srv/shop/invoices")
PAGE_SIZE = 20
LOG_SAMPLE_RATE = 0.05

def reply(status: int, body: str | bytes = "", **headers: str) -> dict:
    return {"status": status, "headers": headers, "body": body}

def is_local_url(target: str) -> bool:
    """Only same-site paths such as '/orders?page=2' may be used as redirect targets."""
    parts = urlparse(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return False
    return target.startswith("/") and not target.startswith("//")

def resolve_inside(base: str, name: str) -> str:
    """Real path of name under base; raises ValueError when it would escape base."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"unsafe file name {name!r}")
    return path

def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)

def cents(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"

def handle_login(request: dict, db) -> dict:
    """POST /login: start a session, then redirect to ?next= when it stays on this site."""
    email, password = request["form"].get("email", ""), request["form"].get("password", "")
    target = request["args"].get("next", "/orders")
    cur = db.execute("SELECT id, hash, salt FROM customers WHERE email = ?", (email,))
    row = cur.fetchone()
    if row is None or not hmac.compare_digest(hash_password(password, row[2]), row[1]):
        return reply(401, "Invalid e-mail or password")
    request["session"]["customer_id"] = row[0]
    request["session"]["csrf"] = secrets.token_hex(16)
    if not is_local_url(target): target = "/"
    return reply(303, Location=target)

def handle_order_search(request: dict, db) -> dict:
    """GET /orders?q=&page=: the signed-in customer's orders as an HTML table, 20 per page."""
    cid = request["session"].get("customer_id")
    if cid is None:
        return reply(303, Location="/login?next=/orders")
    query, page = request["args"].get("q", ""), max(int(request["args"].get("page", "1")), 1)
    like, offset = f"%{query}%", (page - 1) * PAGE_SIZE
    cur = db.execute("SELECT ref, total FROM orders WHERE cid = ? AND ref LIKE ?", (cid, like))
    rows = cur.fetchall()[offset:offset + PAGE_SIZE]
    body = f"<h1>Orders matching {html.escape(query)}</h1><table>"
    for ref, total in rows:
        body += f"<tr><td>{html.escape(ref)}</td><td>{cents(total)}</td></tr>"
    if random.random() < LOG_SAMPLE_RATE:
        request.setdefault("log", []).append(f"search page={page} rows={len(rows)}")
    return reply(200, body + "</table>")

def handle_order_detail(request: dict, db) -> dict:
    """GET /orders/<id>.json: an order as JSON for its customer or an admin."""
    cid, oid = request["session"].get("customer_id"), int(request["args"]["id"])
    row = db.execute("SELECT cid, ref, status, total FROM orders WHERE id = ?", (oid,)).fetchone()
    if row is None or (row[0] != cid and not request["user"].is_admin):
        return reply(404, "Not found")
    order = {"id": oid, "ref": row[1], "status": row[2], "total": cents(row[3])}
    return reply(200, json.dumps(order), **{"Content-Type": "application/json"})

def handle_invoice_download(request: dict) -> dict:
    """GET /invoices?file=: a PDF invoice from the invoice folder."""
    filename = request["args"].get("file", "")
    path = resolve_inside(BASE_DIR, filename)
    with open(path, "rb") as handle:
        return reply(200, handle.read(), **{"Content-Type": "application/pdf"})

def handle_admin_orders(request: dict, db) -> dict:
    """GET /admin/orders?status=: all orders with a given status and their grand total."""
    user = request["user"]
    if not user.is_admin: raise PermissionError("admin only")
    status = request["args"].get("status", "paid")
    cur = db.execute("SELECT ref, email, total FROM orders WHERE status = ?", (status,))
    body = "<ul>"
    grand_total = 0
    for ref, email, total in cur.fetchall():
        grand_total += total
        body += f"<li>{html.escape(ref)} ({html.escape(email)}): {cents(total)}</li>"
    return reply(200, f"{body}</ul><p>Total {cents(grand_total)}</p>")

def handle_refund(request: dict, db) -> dict:
    """POST /admin/refund: mark a paid order as refunded (CSRF token required)."""
    user = request["user"]
    if not user.is_admin: raise PermissionError("admin only")
    form, session = request["form"], request["session"]
    if not hmac.compare_digest(form.get("csrf", ""), session.get("csrf", "-")):
        return reply(403, "Bad CSRF token")
    oid = int(form["id"])
    row = db.execute("SELECT status FROM orders WHERE id = ?", (oid,)).fetchone()
    if row is None or row[0] != "paid":
        return reply(409, "Order is not refundable")
    db.execute("UPDATE orders SET status = 'refunded' WHERE id = ?", (oid,))
    return reply(200, "Refunded")

def main(port: int = 8080) -> None:
    """Serve the handlers on a local development server."""
    from flask import Flask
    app = Flask(__name__)
    app.run(host="127.0.0.1", port=port, debug=False)
