import os
import random
import sqlite3
from types import SimpleNamespace

import pytest

import module as m

ORDER = """<?xml version="1.0"?>
<order>
  <ref> PO-1001 </ref>
  <partner>ACME</partner>
  <line sku="BOLT-5" qty="10"><price>25</price></line>
  <line sku="NUT-5" qty="3"><price> 7 </price></line>
</order>"""

PRICES = """<prices>
  <item sku="BOLT-5"><cents>25</cents></item>
  <item sku="NUT-5"><cents>7</cents></item>
  <item sku="BOLT-5"><cents>30</cents></item>
  <item sku="WASHER"/>
</prices>"""

NOTE = """<dispatch>
  <parcel><ref>PO-1</ref><tracking>TRK1</tracking></parcel>
  <parcel><ref>PO-2</ref><tracking> TRK2 </tracking></parcel>
</dispatch>"""

ADMIN = SimpleNamespace(is_admin=True)
CLERK = SimpleNamespace(is_admin=False)


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE orders (id TEXT, ref TEXT, partner TEXT, total INTEGER, status TEXT, tracking TEXT)")
    yield conn
    conn.close()


def order_xml(lines):
    body = "".join(f'<line sku="S{i}" qty="{qty}"><price>1</price></line>' for i, qty in enumerate(lines))
    return f"<order><ref>R</ref><partner>P</partner>{body}</order>"


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a.xml") == os.path.join(root, "a.xml")
    assert m.resolve_inside(str(tmp_path), "x/../b.xml") == os.path.join(root, "b.xml")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "in"), "../a.xml")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path), "/etc/passwd")


def test_parse_order():
    assert m.parse_order(ORDER) == {
        "ref": "PO-1001", "partner": "ACME",
        "lines": [{"sku": "BOLT-5", "qty": 10, "price": 25}, {"sku": "NUT-5", "qty": 3, "price": 7}],
    }


def test_parse_order_rejects_bad_documents():
    with pytest.raises(ValueError):
        m.parse_order("<invoice><ref>R</ref></invoice>")
    with pytest.raises(ValueError):
        m.parse_order(order_xml([2, 0]))
    with pytest.raises(ValueError):
        m.parse_order(order_xml([-1]))
    with pytest.raises(ValueError):
        m.parse_order(order_xml([]))
    with pytest.raises(ValueError):
        m.parse_order(order_xml([1] * 201))
    assert len(m.parse_order(order_xml([1] * 200))["lines"]) == 200
    assert m.parse_order(order_xml([1]))["lines"] == [{"sku": "S0", "qty": 1, "price": 1}]


def test_text_of_defaults_and_missing_fields():
    order = m.parse_order('<order><line sku="A" qty="1"><price>5</price></line></order>')
    assert order["ref"] == "" and order["partner"] == ""
    currency, prices = m.parse_price_list("<prices/>")
    assert (currency, prices) == ("EUR", {})


def test_order_total():
    assert m.order_total(m.parse_order(ORDER)) == 10 * 25 + 3 * 7
    assert m.order_total({"lines": [{"qty": 1, "price": 99}]}) == 99
    assert m.order_total({"lines": []}) == 0


def test_parse_price_list():
    currency, prices = m.parse_price_list(PRICES)
    assert currency == "EUR"
    assert prices == {"BOLT-5": 30, "NUT-5": 7, "WASHER": 0}
    assert m.parse_price_list("<prices><currency> GBP </currency></prices>") == ("GBP", {})


def test_parse_dispatch_note():
    assert m.parse_dispatch_note(NOTE) == [("PO-1", "TRK1"), ("PO-2", "TRK2")]
    assert m.parse_dispatch_note("<dispatch/>") == []


def test_store_order(db):
    ident = m.store_order(db, m.parse_order(ORDER))
    assert len(ident) == 16 and int(ident, 16) >= 0
    row = db.execute("SELECT id, ref, partner, total, status, tracking FROM orders").fetchone()
    assert row == (ident, "PO-1001", "ACME", 271, "open", None)
    other = m.store_order(db, {"ref": "PO-2", "partner": "ACME", "lines": []})
    assert other != ident
    with pytest.raises(ValueError):
        m.store_order(db, m.parse_order(ORDER))
    assert db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 2


def test_mark_dispatched(db):
    for ref in ("PO-1", "PO-2", "PO-3"):
        m.store_order(db, {"ref": ref, "partner": "ACME", "lines": []})
    db.execute("UPDATE orders SET status = 'cancelled' WHERE ref = 'PO-3'")
    note = [("PO-9", "X"), ("PO-3", "T3"), ("PO-1", "T1"), ("PO-2", "T2")]
    assert m.mark_dispatched(db, note) == 2
    rows = dict(db.execute("SELECT ref, tracking FROM orders WHERE status = 'dispatched'").fetchall())
    assert rows == {"PO-1": "T1", "PO-2": "T2"}
    assert m.mark_dispatched(db, [("PO-1", "again")]) == 0
    assert m.mark_dispatched(db, []) == 0
    assert db.execute("SELECT tracking FROM orders WHERE ref = 'PO-1'").fetchone() == ("T1",)


def test_cancel_order(db):
    m.store_order(db, {"ref": "PO-1", "partner": "ACME", "lines": []})
    m.store_order(db, {"ref": "PO-2", "partner": "ACME", "lines": []})
    with pytest.raises(PermissionError):
        m.cancel_order(db, CLERK, "PO-1")
    assert m.cancel_order(db, ADMIN, "PO-1") is True
    assert m.cancel_order(db, ADMIN, "PO-1") is False
    assert [r[0] for r in db.execute("SELECT ref FROM orders")] == ["PO-2"]


def test_fetch_price_list(monkeypatch):
    import requests

    calls = []

    def fake_get(url, **kwargs):
        calls.append((url, kwargs))
        return SimpleNamespace(text=PRICES, raise_for_status=lambda: None)

    monkeypatch.setattr(requests, "get", fake_get)
    monkeypatch.setattr(m, "PARTNER_TOKEN", "tok-123")
    assert m.fetch_price_list("https://partner.example/prices.xml") == ("EUR", {"BOLT-5": 30, "NUT-5": 7, "WASHER": 0})
    assert calls == [("https://partner.example/prices.xml",
                      {"headers": {"Authorization": "Bearer tok-123"}, "timeout": 10})]


def test_archive_document(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(m, "ARCHIVE_DIR", str(tmp_path))
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kwargs: calls.append((argv, kwargs)))
    path = os.path.join(os.path.realpath(tmp_path), "po-1.xml")
    assert m.archive_document("po-1.xml", b"<order/>") == path + ".gz"
    with open(path, "rb") as handle:
        assert handle.read() == b"<order/>"
    assert calls == [(["gzip", "-f", path], {"check": True})]
    with pytest.raises(ValueError):
        m.archive_document("../outside.xml", b"x")
    assert len(calls) == 1


def test_audit_sample():
    refs = [f"PO-{i}" for i in range(10)]
    picked = m.audit_sample(refs, 3, random.Random(5))
    assert picked == sorted(random.Random(5).sample(refs, 3))
    assert m.audit_sample(refs[:2], 5, random.Random(1)) == ["PO-0", "PO-1"]
    assert len(m.audit_sample(refs, 4)) == 4


def test_confirmation_page():
    order = {"ref": "PO-<1>", "lines": [{"sku": "A&B", "qty": 2, "price": 150}, {"sku": "C", "qty": 1, "price": 5}]}
    assert m.confirmation_page(order) == (
        "<h1>Order PO-&lt;1&gt;</h1><p>Total 3.05</p><table>"
        "<tr><td>A&amp;B</td><td>2</td></tr><tr><td>C</td><td>1</td></tr></table>"
    )
