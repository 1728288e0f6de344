import os
import sqlite3
from types import SimpleNamespace

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


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE invoices (number TEXT, amount INTEGER, status TEXT)")
    conn.execute("CREATE TABLE batches (id TEXT, account TEXT, closing INTEGER)")
    conn.executemany("INSERT INTO invoices VALUES (?, ?, ?)",
                     [("INV-1", 1000, "open"), ("INV-2", 500, "open"), ("INV-3", 700, "paid")])
    yield conn
    conn.close()


def status_of(db, number):
    return db.execute("SELECT status FROM invoices WHERE number = ?", (number,)).fetchone()[0]


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a.pgp") == os.path.join(root, "a.pgp")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "inbox"), "../a.pgp")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path), "/etc/passwd")


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


def test_parse_rule():
    assert m.parse_rule("('amazon', 'expenses:office')") == ("AMAZON", "expenses:office")
    assert m.parse_rule('("Rent", "expenses:rent")') == ("RENT", "expenses:rent")
    for bad in ("['a', 'b']", "('a', 'b', 'c')", "('a', 1)", "__import__('os').getcwd()", "('a',)"):
        with pytest.raises(ValueError):
            m.parse_rule(bad)


def test_load_rules_file():
    text = "- prefix: amazon\n  account: expenses:office\n- prefix: Rent\n  account: expenses:rent\n"
    assert m.load_rules_file(text) == [("AMAZON", "expenses:office"), ("RENT", "expenses:rent")]
    assert m.load_rules_file("") == []


def test_categorise_first_matching_rule_wins():
    entries = m.parse_statement(STATEMENT)["entries"]
    rules = [("INV", "receivables"), ("RENT", "expenses:rent"), ("RENT MAY", "expenses:other")]
    assert m.categorise(entries, rules) == ["receivables", "expenses:rent", "suspense"]
    assert m.categorise(entries, []) == ["suspense"] * 3
    assert m.categorise([{"ref": "x"}, {"ref": "inv-2"}], rules) == ["suspense", "receivables"]


def test_match_invoice(db):
    assert m.match_invoice(db, {"ref": "INV-1", "amount": 1000}) == "INV-1"
    assert status_of(db, "INV-1") == "paid"
    assert m.match_invoice(db, {"ref": "INV-1", "amount": 1000}) is None
    assert status_of(db, "INV-2") == "open"


def test_match_invoice_tolerance(db):
    assert m.match_invoice(db, {"ref": "INV-2", "amount": 506}) is None
    assert m.match_invoice(db, {"ref": "INV-2", "amount": 494}) is None
    assert status_of(db, "INV-2") == "open"
    assert m.match_invoice(db, {"ref": "INV-2", "amount": 495}) == "INV-2"
    assert status_of(db, "INV-2") == "paid"
    assert m.match_invoice(db, {"ref": "INV-1", "amount": 1005}) == "INV-1"


def test_match_invoice_unknown_or_paid(db):
    assert m.match_invoice(db, {"ref": "INV-3", "amount": 700}) is None
    assert m.match_invoice(db, {"ref": "INV-9", "amount": 700}) is None
    assert [status_of(db, n) for n in ("INV-1", "INV-2", "INV-3")] == ["open", "open", "paid"]


def test_import_batch(db):
    batch = m.import_batch(db, m.parse_statement(STATEMENT))
    assert len(batch) == 16 and int(batch, 16) >= 0
    assert db.execute("SELECT id, account, closing FROM batches").fetchall() == [(batch, "DE02-1234", 11330)]
    assert m.import_batch(db, {"account": "X", "opening": 0, "entries": []}) != batch
    assert m.batch_closing(db, batch) == 11330
    assert m.batch_closing(db, "missing") is None


def test_download_statement(monkeypatch):
    import requests

    calls = []

    def fake_get(url, **kwargs):
        calls.append((url, kwargs))
        return SimpleNamespace(text="<statement/>")

    monkeypatch.setattr(requests, "get", fake_get)
    monkeypatch.setattr(m, "BANK_API_TOKEN", "tok-1")
    assert m.download_statement("DE02") == "<statement/>"
    assert calls == [("https://api.bank.example/accounts/DE02/statement.xml",
                      {"headers": {"Authorization": "Bearer tok-1"}, "timeout": 15})]


def test_decrypt_file(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(m, "INBOX_DIR", str(tmp_path))
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kwargs: calls.append((argv, kwargs)))
    root = os.path.realpath(tmp_path)
    assert m.decrypt_file("may.pgp") == os.path.join(root, "may.xml")
    assert calls == [(["gpg", "--batch", "--yes", "--output", os.path.join(root, "may.xml"), "--decrypt",
                       os.path.join(root, "may.pgp")], {"check": True})]
    with pytest.raises(ValueError):
        m.decrypt_file("../other.pgp")
    assert len(calls) == 1


def test_entries_table():
    entries = [{"date": "2024-05-02", "amount": 2500, "ref": "<b>A&B</b>"}, {"date": "d<", "amount": -5, "ref": "x"}]
    assert m.entries_table(entries) == (
        "<table><tr><td>2024-05-02</td><td>25.00</td><td>&lt;b&gt;A&amp;B&lt;/b&gt;</td></tr>"
        "<tr><td>d&lt;</td><td>-0.05</td><td>x</td></tr></table>"
    )
    assert m.entries_table([]) == "<table></table>"
