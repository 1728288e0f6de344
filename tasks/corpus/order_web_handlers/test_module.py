import hashlib
import json
import sqlite3
from types import SimpleNamespace

import pytest

import module as m

ADMIN = SimpleNamespace(name="root", is_admin=True)
GUEST = SimpleNamespace(name="guest", is_admin=False)
SALT = b"0123456789abcdef"


class FastHashlib:
    """hashlib stand-in whose PBKDF2 runs one round (records the requested rounds)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return getattr(hashlib, name)

    def pbkdf2_hmac(self, name, password, salt, iterations):
        self.calls.append((name, iterations))
        return hashlib.pbkdf2_hmac(name, password, salt, 1)


@pytest.fixture(autouse=True)
def fast_hash(monkeypatch):
    fake = FastHashlib()
    monkeypatch.setattr(m, "hashlib", fake)
    return fake


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, hash BLOB, salt BLOB);"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, cid INTEGER, ref TEXT, status TEXT,"
        " total INTEGER, email TEXT);"
    )
    pw = hashlib.pbkdf2_hmac("sha256", b"s3cret!", SALT, 1)
    conn.execute("INSERT INTO customers VALUES (1, 'ann@example.com', ?, ?)", (pw, SALT))
    conn.execute("INSERT INTO customers VALUES (2, 'bob@example.com', ?, ?)", (pw, SALT))
    orders = [
        (1, 1, "A-100", "paid", 1999, "ann@example.com"),
        (2, 1, "A-101", "open", 500, "ann@example.com"),
        (3, 2, "B-200", "paid", 12345, "bob@example.com"),
        (4, 1, "X-300", "paid", 7, "ann@example.com"),
    ]
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", orders)
    yield conn
    conn.close()


def request(args=None, form=None, session=None, user=GUEST):
    return {"args": args or {}, "form": form or {}, "session": session or {}, "user": user}


def test_reply_shape():
    assert m.reply(404, "Not found") == {"status": 404, "headers": {}, "body": "Not found"}
    assert m.reply(303, Location="/x") == {"status": 303, "headers": {"Location": "/x"}, "body": ""}


def test_is_local_url_accepts_paths():
    assert m.is_local_url("/")
    assert m.is_local_url("/orders?page=2")
    assert m.is_local_url("/a/b#frag")


def test_is_local_url_rejects_other_sites():
    assert not m.is_local_url("https://evil.example/")
    assert not m.is_local_url("//evil.example/x")
    assert not m.is_local_url("/\\evil.example")
    assert not m.is_local_url("javascript:alert(1)")
    assert not m.is_local_url("orders")
    assert not m.is_local_url("")


def test_resolve_inside(tmp_path):
    assert m.resolve_inside(str(tmp_path), "a.pdf") == str(tmp_path / "a.pdf")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "inv"), "../a.pdf")


def test_hash_password_rounds(fast_hash):
    assert m.hash_password("pw", SALT) == hashlib.pbkdf2_hmac("sha256", b"pw", SALT, 1)
    assert fast_hash.calls == [("sha256", 200_000)]


def test_cents():
    assert m.cents(0) == "0.00"
    assert m.cents(7) == "0.07"
    assert m.cents(1999) == "19.99"
    assert m.cents(12300) == "123.00"


def test_login_success_redirects_to_next(db):
    req = request(args={"next": "/orders?page=2"}, form={"email": "bob@example.com", "password": "s3cret!"})
    resp = m.handle_login(req, db)
    assert resp == {"status": 303, "headers": {"Location": "/orders?page=2"}, "body": ""}
    assert req["session"]["customer_id"] == 2
    assert len(req["session"]["csrf"]) == 32


def test_login_default_and_external_next(db):
    req = request(form={"email": "ann@example.com", "password": "s3cret!"})
    assert m.handle_login(req, db)["headers"] == {"Location": "/orders"}
    assert req["session"]["customer_id"] == 1
    req = request(args={"next": "https://evil.example"}, form={"email": "ann@example.com", "password": "s3cret!"})
    assert m.handle_login(req, db)["headers"] == {"Location": "/"}


def test_login_failures(db):
    req = request(args={"next": "/x"}, form={"email": "ann@example.com", "password": "nope"})
    assert m.handle_login(req, db) == m.reply(401, "Invalid e-mail or password")
    assert req["session"] == {}
    req = request(form={"email": "zed@example.com", "password": "s3cret!"})
    assert m.handle_login(req, db)["status"] == 401
    assert m.handle_login(request(), db)["status"] == 401


def test_search_requires_login(db):
    resp = m.handle_order_search(request(), db)
    assert resp == m.reply(303, Location="/login?next=/orders")


def test_search_lists_own_orders(db, monkeypatch):
    monkeypatch.setattr(m.random, "random", lambda: 0.5)
    resp = m.handle_order_search(request(session={"customer_id": 1}), db)
    assert resp["status"] == 200
    assert resp["body"] == (
        "<h1>Orders matching </h1><table>"
        "<tr><td>A-100</td><td>19.99</td></tr>"
        "<tr><td>A-101</td><td>5.00</td></tr>"
        "<tr><td>X-300</td><td>0.07</td></tr></table>"
    )


def test_search_filters_by_query(db, monkeypatch):
    monkeypatch.setattr(m.random, "random", lambda: 0.5)
    resp = m.handle_order_search(request(args={"q": "A-"}, session={"customer_id": 1}), db)
    assert "A-100" in resp["body"] and "A-101" in resp["body"] and "X-300" not in resp["body"]
    resp = m.handle_order_search(request(args={"q": "B-200"}, session={"customer_id": 1}), db)
    assert resp["body"] == "<h1>Orders matching B-200</h1><table></table>"


def test_search_escapes_query_and_refs(db, monkeypatch):
    monkeypatch.setattr(m.random, "random", lambda: 0.5)
    db.execute("INSERT INTO orders VALUES (9, 1, '<b>x</b>', 'open', 1, 'ann@example.com')")
    resp = m.handle_order_search(request(args={"q": "<b>"}, session={"customer_id": 1}), db)
    assert "<b>" not in resp["body"]
    assert resp["body"].count("&lt;b&gt;") == 2


def test_search_pagination(db, monkeypatch):
    monkeypatch.setattr(m.random, "random", lambda: 0.5)
    for i in range(45):
        db.execute("INSERT INTO orders (cid, ref, status, total) VALUES (2, ?, 'paid', 100)", (f"P{i:02d}",))

    def refs(page):
        body = m.handle_order_search(request(args={"q": "P", "page": page}, session={"customer_id": 2}), db)["body"]
        return [cell.split("</td>")[0] for cell in body.split("<tr><td>")[1:]]

    assert refs("1") == [f"P{i:02d}" for i in range(20)]
    assert refs("2") == [f"P{i:02d}" for i in range(20, 40)]
    assert refs("3") == [f"P{i:02d}" for i in range(40, 45)]
    assert refs("0") == refs("1")
    assert refs("-4") == refs("1")
    assert refs("4") == []


def test_search_log_sampling(db, monkeypatch):
    req = request(session={"customer_id": 1})
    monkeypatch.setattr(m.random, "random", lambda: 0.05)
    m.handle_order_search(req, db)
    assert "log" not in req
    monkeypatch.setattr(m.random, "random", lambda: 0.049)
    m.handle_order_search(req, db)
    assert req["log"] == ["search page=1 rows=3"]


def test_order_detail_for_owner(db):
    resp = m.handle_order_detail(request(args={"id": "1"}, session={"customer_id": 1}), db)
    assert resp["status"] == 200
    assert resp["headers"] == {"Content-Type": "application/json"}
    assert json.loads(resp["body"]) == {"id": 1, "ref": "A-100", "status": "paid", "total": "19.99"}


def test_order_detail_other_customer_and_admin(db):
    resp = m.handle_order_detail(request(args={"id": "3"}, session={"customer_id": 1}), db)
    assert resp == m.reply(404, "Not found")
    resp = m.handle_order_detail(request(args={"id": "3"}, session={}, user=ADMIN), db)
    assert json.loads(resp["body"])["total"] == "123.45"
    resp = m.handle_order_detail(request(args={"id": "99"}, session={"customer_id": 1}, user=ADMIN), db)
    assert resp["status"] == 404


def test_invoice_download(tmp_path, monkeypatch):
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "A-100.pdf").write_bytes(b"%PDF-1.7 a100")
    (tmp_path / "private.txt").write_bytes(b"secret")
    monkeypatch.setattr(m, "BASE_DIR", str(tmp_path / "inv"))
    resp = m.handle_invoice_download(request(args={"file": "A-100.pdf"}))
    assert resp == {"status": 200, "headers": {"Content-Type": "application/pdf"}, "body": b"%PDF-1.7 a100"}
    with pytest.raises(ValueError):
        m.handle_invoice_download(request(args={"file": "../private.txt"}))


def test_admin_orders(db):
    resp = m.handle_admin_orders(request(user=ADMIN), db)
    assert resp["body"] == (
        "<ul><li>A-100 (ann@example.com): 19.99</li>"
        "<li>B-200 (bob@example.com): 123.45</li>"
        "<li>X-300 (ann@example.com): 0.07</li></ul><p>Total 143.51</p>"
    )
    resp = m.handle_admin_orders(request(args={"status": "open"}, user=ADMIN), db)
    assert resp["body"] == "<ul><li>A-101 (ann@example.com): 5.00</li></ul><p>Total 5.00</p>"
    resp = m.handle_admin_orders(request(args={"status": "void"}, user=ADMIN), db)
    assert resp["body"] == "<ul></ul><p>Total 0.00</p>"


def test_admin_orders_escapes_and_requires_admin(db):
    db.execute("INSERT INTO orders VALUES (8, 1, '<i>r</i>', 'held', 1, '<b>e</b>')")
    body = m.handle_admin_orders(request(args={"status": "held"}, user=ADMIN), db)["body"]
    assert "&lt;i&gt;r&lt;/i&gt; (&lt;b&gt;e&lt;/b&gt;)" in body
    with pytest.raises(PermissionError):
        m.handle_admin_orders(request(user=GUEST), db)


def status_of(db, oid):
    return db.execute("SELECT status FROM orders WHERE id = ?", (oid,)).fetchone()[0]


def test_refund_paid_order(db):
    req = request(form={"id": "3", "csrf": "tok"}, session={"csrf": "tok"}, user=ADMIN)
    assert m.handle_refund(req, db) == m.reply(200, "Refunded")
    assert status_of(db, 3) == "refunded"
    assert status_of(db, 1) == "paid"
    assert m.handle_refund(req, db) == m.reply(409, "Order is not refundable")


def test_refund_rejects_unpaid_unknown_and_bad_csrf(db):
    req = request(form={"id": "2", "csrf": "tok"}, session={"csrf": "tok"}, user=ADMIN)
    assert m.handle_refund(req, db)["status"] == 409
    assert status_of(db, 2) == "open"
    req = request(form={"id": "99", "csrf": "tok"}, session={"csrf": "tok"}, user=ADMIN)
    assert m.handle_refund(req, db)["status"] == 409
    req = request(form={"id": "1", "csrf": "other"}, session={"csrf": "tok"}, user=ADMIN)
    assert m.handle_refund(req, db) == m.reply(403, "Bad CSRF token")
    req = request(form={"id": "1"}, session={}, user=ADMIN)
    assert m.handle_refund(req, db)["status"] == 403
    assert status_of(db, 1) == "paid"


def test_refund_requires_admin(db):
    req = request(form={"id": "1", "csrf": "tok"}, session={"csrf": "tok"}, user=GUEST)
    with pytest.raises(PermissionError):
        m.handle_refund(req, db)
    assert status_of(db, 1) == "paid"
