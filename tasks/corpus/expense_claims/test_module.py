import hashlib
import hmac
import os
import sqlite3

os.environ.setdefault("CLAIMS_SIGNING_SECRET", "test-signing-secret")
os.environ.setdefault("CLAIMS_PAYROLL_SECRET", "test-payroll-secret")

import pytest

import module as m

EMPLOYEE = m.Actor(2)
OTHER = m.Actor(3)
APPROVER = m.Actor(4, is_approver=True)
ADMIN = m.Actor(1, is_admin=True)


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE claims (id INTEGER PRIMARY KEY, employee_id INT, description TEXT, amount_cents INT,"
        " category TEXT, status TEXT, approver_id INT);"
        "CREATE TABLE receipts (claim_id INT, employee_id INT, name TEXT);"
        "CREATE TABLE employees (id INTEGER PRIMARY KEY, is_approver INT);"
    )
    db.executemany("INSERT INTO claims (id, employee_id, description, amount_cents, category, status) VALUES (?, ?, ?, ?, ?, ?)",
                   [(1, 2, "taxi", 2500, "travel", "draft"), (2, 2, "hotel", 90000, "travel", "submitted"),
                    (3, 4, "laptop", 55000, "equipment", "submitted"), (4, 3, "lunch", 1200, "meals", "approved")])
    db.executemany("INSERT INTO receipts VALUES (?, ?, ?)", [(1, 2, "taxi.pdf"), (1, 2, "tip.pdf"), (4, 3, "lunch.jpg")])
    db.executemany("INSERT INTO employees VALUES (?, ?)", [(1, 0), (2, 0), (3, 0), (4, 1)])
    yield db
    db.close()


def status(db, claim_id):
    return db.execute("SELECT status FROM claims WHERE id = ?", (claim_id,)).fetchone()[0]


def test_claim_total_skips_voided_lines_and_counts_every_other():
    lines = [{"amount_cents": 500}, {"amount_cents": 900, "voided": True}, {"amount_cents": 250}, {"amount_cents": -50}]
    assert m.claim_total(lines) == 700
    assert m.claim_total([]) == 0
    assert m.claim_total([{"amount_cents": 1, "voided": False}]) == 1


def test_load_claim(conn):
    assert m.load_claim(conn, 3)["description"] == "laptop"
    assert m.load_claim(conn, 99) is None


def test_own_claim_and_receipts(conn):
    assert m.get_own_claim(conn, EMPLOYEE, 1) == {"id": 1, "employee_id": 2, "description": "taxi",
                                                  "amount_cents": 2500, "category": "travel", "status": "draft"}
    assert m.get_own_claim(conn, EMPLOYEE, 4) is None
    assert m.receipt_names(conn, EMPLOYEE, 1) == ["taxi.pdf", "tip.pdf"]
    assert m.receipt_names(conn, EMPLOYEE, 4) == []


def test_update_claim_takes_editable_fields(conn):
    claim = m.update_claim(conn, EMPLOYEE, 1, {"description": "airport taxi", "amount_cents": 3100})
    assert claim["description"] == "airport taxi"
    row = conn.execute("SELECT description, amount_cents, category, status FROM claims WHERE id = 1").fetchone()
    assert row == ("airport taxi", 3100, "travel", "draft")


def test_update_claim_refusals(conn):
    with pytest.raises(LookupError):
        m.update_claim(conn, EMPLOYEE, 99, {})
    with pytest.raises(PermissionError):
        m.update_claim(conn, OTHER, 1, {"description": "x"})
    with pytest.raises(ValueError):
        m.update_claim(conn, EMPLOYEE, 2, {"description": "x"})


def test_decide_claim(conn):
    assert m.decide_claim(conn, APPROVER, 2, approve=True) == "approved"
    assert status(conn, 2) == "approved"
    with pytest.raises(ValueError):
        m.decide_claim(conn, APPROVER, 2, approve=False)
    with pytest.raises(PermissionError):
        m.decide_claim(conn, APPROVER, 3, approve=True)
    with pytest.raises(PermissionError):
        m.decide_claim(conn, EMPLOYEE, 3, approve=False)


def test_reject(conn):
    assert m.decide_claim(conn, APPROVER, 2, approve=False) == "rejected"
    assert status(conn, 2) == "rejected"


def test_set_approver(conn):
    m.set_approver(conn, ADMIN, 3, True)
    assert conn.execute("SELECT is_approver FROM employees WHERE id = 3").fetchone() == (1,)
    with pytest.raises(PermissionError):
        m.set_approver(conn, APPROVER, 2, True)


def test_update_profile():
    profiles = {2: {"display_name": "Ann", "cost_centre": "OPS", "is_approver": False}}
    profile = m.update_profile(profiles, EMPLOYEE, {"display_name": "Ann B", "cost_centre": "R&D"})
    assert profile == {"display_name": "Ann B", "cost_centre": "R&D", "is_approver": False}


def test_record_payment(conn):
    payload = '{"claim_id": 4}'
    assert m.record_payment(conn, payload, m.sign(payload, m.PAYROLL_SECRET)) == 4
    assert status(conn, 4) == "paid"
    with pytest.raises(ValueError):
        m.record_payment(conn, '{"claim_id": 2}', m.sign('{"claim_id": 2}'))


def test_sign_is_hmac_sha256():
    key = os.environ["CLAIMS_SIGNING_SECRET"].encode()
    assert m.sign("abc") == hmac.new(key, b"abc", hashlib.sha256).hexdigest()
    assert m.sign("abc") != m.sign("abd")
    assert m.sign("abc", m.PAYROLL_SECRET) == hmac.new(b"test-payroll-secret", b"abc", hashlib.sha256).hexdigest()


def test_session_tokens():
    token = m.issue_token(7, now=1000.0, purpose="session")
    assert m.session_user(token, now=1000.0 + m.SESSION_MAX_AGE - 1) == 7
    assert m.session_user(token, now=1000.0 + m.SESSION_MAX_AGE) is None
    with pytest.raises(ValueError):
        m.session_user(token[:-1] + ("0" if token[-1] != "0" else "1"), now=1000.0)


def test_reset_tokens_expire_after_fifteen_minutes():
    token = m.issue_token(9, now=5000.0, purpose="reset")
    assert m.reset_user(token, now=5000.0 + m.RESET_MAX_AGE) == 9
    assert m.reset_user(token, now=5000.0 + m.RESET_MAX_AGE + 1) is None


def test_tokens_serve_only_their_purpose():
    with pytest.raises(ValueError):
        m.reset_user(m.issue_token(9, now=0.0, purpose="session"), now=1.0)
    with pytest.raises(ValueError):
        m.session_user(m.issue_token(9, now=0.0, purpose="reset"), now=1.0)
