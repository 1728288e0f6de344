import hashlib
import hmac
import logging
import os
import sqlite3

os.environ.setdefault("BANK_WEBHOOK_SECRET", "test-webhook-secret")
os.environ.setdefault("AUDITOR_LINK_SECRET", "test-link-secret")

import pytest

import module as m

STATEMENT = """<?xml version="1.0"?>
<statement>
  <account> DE02-1234 </account>
  <opening>10000</opening>
  <entry type="credit"><date>2024-05-02</date><amount>2500</amount><ref>INV-7</ref></entry>
  <entry type="debit"><date>2024-05-03</date><amount>1200</amount><ref>Rent May</ref></entry>
  <entry><date>2024-05-04</date><amount> 30 </amount><ref>interest</ref></entry>
</statement>"""

REMITTANCE = """<remittance>
  <invoice><number>INV-1</number><amount>1000</amount></invoice>
  <invoice><number>INV-2</number><amount>250</amount></invoice>
  <invoice><number>INV-1</number><amount>5</amount></invoice>
</remittance>"""

CLERK = m.Actor(10, tenant_id=1)
ACCOUNTANT = m.Actor(11, tenant_id=1, is_approver=True)
MANAGER = m.Actor(12, tenant_id=1, is_manager=True)
ADMIN = m.Actor(13, tenant_id=1, is_admin=True)
OTHER_ACCOUNTANT = m.Actor(21, tenant_id=2, is_approver=True, is_manager=True)


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE invoices (number TEXT, tenant_id INT, customer TEXT, amount INTEGER, due TEXT, status TEXT);"
        "CREATE TABLE batches (id TEXT, tenant_id INT, account TEXT, closing INTEGER);"
        "CREATE TABLE entries (batch TEXT, tenant_id INT, date TEXT, amount INTEGER, ref TEXT);"
        "CREATE TABLE rules (id INTEGER PRIMARY KEY, tenant_id INT, prefix TEXT, account TEXT);"
        "CREATE TABLE fx_rates (currency TEXT, rate_ppm INTEGER);"
        "CREATE TABLE accounts (iban TEXT, tenant_id INT);"
    )
    conn.executemany("INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?)", [
        ("INV-1", 1, "Acme", 1000, "2024-06-01", "open"), ("INV-2", 1, "Beta", 500, "2024-06-15", "open"),
        ("INV-3", 1, "Acme", 700, "2024-04-01", "paid"), ("INV-1", 2, "Zeta", 1000, "2024-07-01", "open"),
        ("INV-9", 2, "Zeta", 900, "2024-07-01", "open"),
    ])
    conn.executemany("INSERT INTO fx_rates VALUES (?, ?)", [("USD", 920_000), ("GBP", 1_170_000)])
    conn.executemany("INSERT INTO accounts VALUES (?, ?)", [("DE02-1234", 1), ("DE09-9999", 2)])
    yield conn
    conn.close()


def status_of(db, number, tenant_id=1):
    return db.execute("SELECT status FROM invoices WHERE number = ? AND tenant_id = ?", (number, tenant_id)).fetchone()[0]


def signed_header(body, issued_at, secret="test-webhook-secret"):
    mac = hmac.new(secret.encode(), f"{issued_at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={issued_at}, v1={mac}"


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a.xml") == os.path.join(root, "a.xml")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "inbox"), "../a.xml")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path), "/etc/passwd")


def test_read_inbox(tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "may.xml").write_text("<statement/>", encoding="utf-8")
    (tmp_path / "outside.xml").write_text("secret", encoding="utf-8")
    monkeypatch.setattr(m, "INBOX_DIR", str(inbox))
    assert m.read_inbox("may.xml") == "<statement/>"
    with pytest.raises(ValueError):
        m.read_inbox("../outside.xml")


def test_parse_statement():
    statement = m.parse_statement(STATEMENT)
    assert statement == {
        "account": "DE02-1234", "opening": 10000,
        "entries": [
            {"date": "2024-05-02", "amount": 2500, "ref": "INV-7"},
            {"date": "2024-05-03", "amount": -1200, "ref": "Rent May"},
            {"date": "2024-05-04", "amount": 30, "ref": "interest"},
        ],
    }


def test_parse_statement_defaults():
    assert m.parse_statement("<statement/>") == {"account": "", "opening": 0, "entries": []}
    with pytest.raises(ValueError):
        m.parse_statement("<statement><entry><amount>12.5</amount></entry></statement>")


def test_closing_balance():
    assert m.closing_balance(m.parse_statement(STATEMENT)) == 10000 + 2500 - 1200 + 30
    assert m.closing_balance({"opening": -5, "entries": []}) == -5
    assert m.closing_balance({"opening": 0, "entries": [{"amount": 7}, {"amount": 8}]}) == 15


def test_parse_remittance():
    assert m.parse_remittance(REMITTANCE) == {"INV-1": 1005, "INV-2": 250}
    assert m.parse_remittance("<remittance/>") == {}


def test_fetch_remittance(monkeypatch, caplog):
    fetched = []
    monkeypatch.setattr(m, "_download", lambda url: fetched.append(url) or REMITTANCE)
    url = "https://docs.bank.example/remittance/77.xml"
    assert m.fetch_remittance(url) == {"INV-1": 1005, "INV-2": 250}
    assert m.fetch_remittance("https://remittance.bank.example/a") == {"INV-1": 1005, "INV-2": 250}
    assert fetched == [url, "https://remittance.bank.example/a"]
    with caplog.at_level(logging.INFO, logger="bank_import.audit"):
        for bad in ("http://docs.bank.example/77.xml", "https://evil.example/x\nforged", "https://docs.bank.example.evil.example/"):
            with pytest.raises(ValueError):
                m.fetch_remittance(bad)
    assert len(fetched) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "remittance link to 'https://evil.example/x\\nforged' refused",
        "remittance link to 'https://docs.bank.example.evil.example/' refused",
    ]


def test_parse_rule():
    assert m.parse_rule("('amazon', 'expenses:office')") == ("AMAZON", "expenses:office")
    assert m.parse_rule('("Rent", "expenses:rent")') == ("RENT", "expenses:rent")
    for bad in ("['a', 'b']", "('a', 'b', 'c')", "('a', 1)", "__import__('os').getcwd()", "('a',)"):
        with pytest.raises(ValueError):
            m.parse_rule(bad)


def test_add_rule(db):
    m.add_rule(db, ADMIN, "('amazon', 'expenses:office')")
    assert db.execute("SELECT tenant_id, prefix, account FROM rules").fetchall() == [(1, "AMAZON", "expenses:office")]
    with pytest.raises(PermissionError):
        m.add_rule(db, ACCOUNTANT, "('rent', 'expenses:rent')")
    with pytest.raises(ValueError):
        m.add_rule(db, ADMIN, "('rent',)")
    assert db.execute("SELECT COUNT(*) FROM rules").fetchone() == (1,)


def test_categorise_first_matching_rule_wins():
    entries = m.parse_statement(STATEMENT)["entries"]
    rules = [("INV", "receivables"), ("RENT", "expenses:rent"), ("RENT MAY", "expenses:other")]
    assert m.categorise(entries, rules) == ["receivables", "expenses:rent", "suspense"]
    assert m.categorise(entries, []) == ["suspense"] * 3
    assert m.categorise([{"ref": "x"}, {"ref": "inv-2"}], rules) == ["suspense", "receivables"]


def test_home_amount(db):
    assert m.home_amount(db, 1000, "USD") == 920
    assert m.home_amount(db, 1000, "GBP") == 1170
    assert m.home_amount(db, 3, "GBP") == 4
    assert m.home_amount(db, -250, "USD") == -230
    with pytest.raises(LookupError):
        m.home_amount(db, 1000, "JPY")


def test_match_invoice(db):
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-1", "amount": 1000}) == "INV-1"
    assert status_of(db, "INV-1") == "paid"
    assert status_of(db, "INV-1", tenant_id=2) == "open"
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-1", "amount": 1000}) is None
    assert status_of(db, "INV-2") == "open"


def test_match_invoice_tolerance(db):
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-2", "amount": 506}) is None
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-2", "amount": 494}) is None
    assert status_of(db, "INV-2") == "open"
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-2", "amount": 495}) == "INV-2"
    assert status_of(db, "INV-2") == "paid"
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-1", "amount": 1005}) == "INV-1"


def test_match_invoice_unknown_or_paid(db):
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-3", "amount": 700}) is None
    assert m.match_invoice(db, ACCOUNTANT, {"ref": "INV-9", "amount": 900}) is None
    assert [status_of(db, n) for n in ("INV-1", "INV-2", "INV-3")] == ["open", "open", "paid"]
    assert status_of(db, "INV-9", tenant_id=2) == "open"


def test_match_invoice_needs_an_accountant(db, caplog):
    with pytest.raises(PermissionError):
        m.match_invoice(db, CLERK, {"ref": "INV-1", "amount": 1000})
    assert status_of(db, "INV-1") == "open"
    with caplog.at_level(logging.INFO, logger="bank_import.audit"):
        m.match_invoice(db, ACCOUNTANT, {"ref": "INV-8\r\nadmin", "amount": 12})
    assert caplog.records[-1].getMessage() == "no open invoice for payer reference 'INV-8\\r\\nadmin' (12 cents)"


def test_write_off(db, caplog):
    with caplog.at_level(logging.INFO, logger="bank_import.audit"):
        m.write_off(db, MANAGER, "INV-2", "customer insolvent\nsee file")
    assert status_of(db, "INV-2") == "written_off"
    assert [status_of(db, n) for n in ("INV-1", "INV-3")] == ["open", "paid"]
    assert status_of(db, "INV-1", tenant_id=2) == "open"
    assert caplog.records[-1].getMessage() == "invoice 'INV-2' written off by user 12: 'customer insolvent\\nsee file'"
    for number in ("INV-2", "INV-3", "INV-9", "INV-404"):
        with pytest.raises(LookupError):
            m.write_off(db, MANAGER, number, "x")
    with pytest.raises(PermissionError):
        m.write_off(db, ACCOUNTANT, "INV-1", "x")
    assert status_of(db, "INV-1") == "open"


def test_update_invoice(db):
    invoice = m.update_invoice(db, CLERK, "INV-2", {"amount": 550, "due": "2024-07-01", "status": "paid", "tenant_id": 2})
    assert invoice == {"number": "INV-2", "customer": "Beta", "amount": 550, "due": "2024-07-01", "status": "open"}
    assert db.execute("SELECT customer, amount, due, status FROM invoices WHERE number = 'INV-2' AND tenant_id = 1").fetchone() \
        == ("Beta", 550, "2024-07-01", "open")
    assert m.update_invoice(db, CLERK, "INV-1", {"customer": "Acme GmbH"})["customer"] == "Acme GmbH"
    assert db.execute("SELECT customer FROM invoices WHERE number = 'INV-1' ORDER BY tenant_id").fetchall() \
        == [("Acme GmbH",), ("Zeta",)]
    with pytest.raises(ValueError):
        m.update_invoice(db, CLERK, "INV-3", {"amount": 1})
    with pytest.raises(LookupError):
        m.update_invoice(db, CLERK, "INV-9", {"amount": 1})
    assert db.execute("SELECT amount FROM invoices WHERE number = 'INV-9'").fetchone() == (900,)


def test_import_batch(db):
    batch = m.import_batch(db, 1, m.parse_statement(STATEMENT))
    assert len(batch) == 16 and int(batch, 16) >= 0
    assert db.execute("SELECT id, tenant_id, account, closing FROM batches").fetchall() == [(batch, 1, "DE02-1234", 11330)]
    assert m.import_batch(db, 1, {"account": "X", "opening": 0, "entries": []}) != batch
    assert m.batch_closing(db, CLERK, batch) == 11330
    assert m.batch_closing(db, CLERK, "missing") is None
    assert m.batch_closing(db, OTHER_ACCOUNTANT, batch) is None
    assert m.load_batch(db, batch) == {"id": batch, "tenant_id": 1, "account": "DE02-1234", "closing": 11330}
    assert m.load_batch(db, "missing") is None


def test_batch_entries(db):
    batch = m.import_batch(db, 1, m.parse_statement(STATEMENT))
    other = m.import_batch(db, 2, {"account": "DE09-9999", "opening": 0,
                                   "entries": [{"date": "2024-05-09", "amount": 5, "ref": "z"}]})
    assert m.batch_entries(db, CLERK, batch) == m.parse_statement(STATEMENT)["entries"]
    assert m.batch_entries(db, CLERK, other) == []
    assert m.batch_entries(db, OTHER_ACCOUNTANT, other) == [{"date": "2024-05-09", "amount": 5, "ref": "z"}]


def test_discard_batch(db):
    batch = m.import_batch(db, 1, m.parse_statement(STATEMENT))
    other = m.import_batch(db, 2, {"account": "DE09-9999", "opening": 0,
                                   "entries": [{"date": "2024-05-09", "amount": 5, "ref": "z"}]})
    with pytest.raises(PermissionError):
        m.discard_batch(db, ACCOUNTANT, other)
    with pytest.raises(PermissionError):
        m.discard_batch(db, CLERK, batch)
    with pytest.raises(LookupError):
        m.discard_batch(db, ACCOUNTANT, "missing")
    assert db.execute("SELECT COUNT(*) FROM entries").fetchone() == (4,)
    m.discard_batch(db, ACCOUNTANT, batch)
    assert db.execute("SELECT id FROM batches").fetchall() == [(other,)]
    assert db.execute("SELECT batch, ref FROM entries").fetchall() == [(other, "z")]


def test_receive_delivery(db):
    now = 1_715_000_000
    batch = m.receive_delivery(db, STATEMENT, signed_header(STATEMENT, now - 300), now)
    assert db.execute("SELECT id, tenant_id, closing FROM batches").fetchall() == [(batch, 1, 11330)]
    assert len(m.batch_entries(db, CLERK, batch)) == 3
    body = STATEMENT.replace("DE02-1234", "DE09-9999")
    assert m.load_batch(db, m.receive_delivery(db, body, signed_header(body, now), now))["tenant_id"] == 2


def test_receive_delivery_refused(db):
    now = 1_715_000_000
    for header in (signed_header(STATEMENT, now, secret="wrong"), signed_header(STATEMENT, now - 1) + "0",
                   signed_header(STATEMENT, now).replace(f"t={now}", f"t={now - 1}"), "", "v1=abc"):
        with pytest.raises(ValueError):
            m.receive_delivery(db, STATEMENT, header, now)
    with pytest.raises(ValueError):
        m.receive_delivery(db, STATEMENT.replace("10000", "99999"), signed_header(STATEMENT, now), now)
    with pytest.raises(ValueError):
        m.receive_delivery(db, STATEMENT, signed_header(STATEMENT, now - 301), now)
    unknown = STATEMENT.replace("DE02-1234", "FR76-0000")
    with pytest.raises(LookupError):
        m.receive_delivery(db, unknown, signed_header(unknown, now), now)
    assert db.execute("SELECT COUNT(*) FROM batches").fetchone() == (0,)


def test_auditor_link(db):
    batch = m.import_batch(db, 1, m.parse_statement(STATEMENT))
    other = m.import_batch(db, 2, {"account": "DE09-9999", "opening": 0, "entries": []})
    token = m.auditor_link(db, CLERK, batch, 1000)
    assert token.startswith(f"{batch}:1000:{1000 + m.LINK_MAX_AGE}:")
    assert m.linked_batch(token, 1000) == batch
    assert m.linked_batch(token, 1000 + m.LINK_MAX_AGE - 1) == batch
    with pytest.raises(ValueError):
        m.linked_batch(token, 1000 + m.LINK_MAX_AGE)
    with pytest.raises(ValueError):
        m.linked_batch(token.replace(batch, other), 1000)
    with pytest.raises(ValueError):
        m.linked_batch(token[:-1] + ("0" if token[-1] != "0" else "1"), 1000)
    with pytest.raises(LookupError):
        m.auditor_link(db, CLERK, other, 1000)
    assert m.linked_batch(m.auditor_link(db, OTHER_ACCOUNTANT, other, 5), 6) == other


def test_entries_table():
    entries = [{"date": "2024-05-02", "amount": 2500, "ref": "<b>A&B</b>"}, {"date": "d<", "amount": -5, "ref": "x"}]
    assert m.entries_table(entries) == (
        "<table><tr><td>2024-05-02</td><td>25.00</td><td>&lt;b&gt;A&amp;B&lt;/b&gt;</td></tr>"
        "<tr><td>d&lt;</td><td>-0.05</td><td>x</td></tr></table>"
    )
    assert m.entries_table([]) == "<table></table>"
