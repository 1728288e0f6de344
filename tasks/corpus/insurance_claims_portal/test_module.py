import hashlib
import hmac
import json
import os
import sqlite3
from datetime import date

os.environ.setdefault("CLAIMS_SESSION_SECRET", "test-session-secret")
os.environ.setdefault("CLAIMS_LINK_SECRET", "test-link-secret")
os.environ.setdefault("CLAIMS_PAYMENT_SECRET", "test-payment-secret")

import pytest

import module as m

HOLDER = m.Actor(2)
OTHER = m.Actor(3)
ADJUSTER = m.Actor(4, is_staff=True)
ADMIN = m.Actor(1, is_admin=True)
CLAIM_COLUMNS = "id, policy_id, owner_id, description, loss_date, amount_cents, status, payout_cents"


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE policies (id INTEGER PRIMARY KEY, owner_id INT, starts_on TEXT, ends_on TEXT, deductible_cents INT,"
        " limit_cents INT, sum_insured_cents INT, value_cents INT);"
        "CREATE TABLE claims (id INTEGER PRIMARY KEY, policy_id INT, owner_id INT, description TEXT, loss_date TEXT,"
        " amount_cents INT, status TEXT, payout_cents INT, adjuster_id INT);"
        "CREATE TABLE documents (id INTEGER PRIMARY KEY, claim_id INT, owner_id INT, name TEXT, sha256 TEXT, content BLOB);"
        "CREATE TABLE users (id INTEGER PRIMARY KEY, display_name TEXT, phone TEXT, email TEXT, is_staff INT, is_admin INT);"
    )
    db.executemany("INSERT INTO policies VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [(10, 2, "2024-01-01", "2025-01-01", 50_000, 2_000_000, 30_000_000, 30_000_000),
                    (11, 3, "2024-01-01", "2025-01-01", 10_000, 500_000, 10_000_000, 20_000_000),
                    (12, 4, "2024-01-01", "2025-01-01", 0, 100_000, 1_000_000, 1_000_000)])
    db.executemany(f"INSERT INTO claims ({CLAIM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [(1, 10, 2, "burst pipe", "2024-03-02", 450_000, "open", None),
                    (2, 11, 3, "storm roof", "2024-04-10", 210_000, "open", None),
                    (3, 10, 2, "stolen bike", "2024-05-20", 80_000, "approved", 30_000),
                    (4, 12, 4, "broken window", "2024-06-01", 20_000, "open", None),
                    (5, 12, 4, "scratched car", "2024-06-09", 30_000, "approved", 30_000)])
    db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
                   [(1, "Admin", "", "a@ins.example", 0, 1), (2, "Ann", "0101", "ann@mail.example", 0, 0),
                    (3, "Bo", "0202", "bo@mail.example", 0, 0), (4, "Cy", "0303", "cy@ins.example", 1, 0)])
    yield db
    db.close()


def claim_row(db, claim_id):
    return db.execute("SELECT status, payout_cents, adjuster_id FROM claims WHERE id = ?", (claim_id,)).fetchone()


def test_filing_window_covers_start_to_end_exclusive():
    start, end = date(2024, 1, 1), date(2025, 1, 1)
    assert m.within_filing_window(date(2024, 1, 1), date(2024, 1, 1), start, end)
    assert not m.within_filing_window(date(2023, 12, 31), date(2024, 1, 2), start, end)
    assert m.within_filing_window(date(2024, 12, 31), date(2025, 1, 5), start, end)
    assert not m.within_filing_window(date(2025, 1, 1), date(2025, 1, 1), start, end)


def test_filing_window_reporting_deadline():
    start, end = date(2024, 1, 1), date(2025, 1, 1)
    loss = date(2024, 3, 1)
    assert m.within_filing_window(loss, date(2024, 4, 30), start, end)  # 60 days
    assert not m.within_filing_window(loss, date(2024, 5, 1), start, end)  # 61 days
    assert not m.within_filing_window(loss, date(2024, 2, 29), start, end)  # reported before it happened


def test_settlement_deductible_and_limit():
    assert m.settlement_cents(50_000, 50_000, 10**9, 100, 100) == 0
    assert m.settlement_cents(40_000, 50_000, 10**9, 100, 100) == 0
    assert m.settlement_cents(50_001, 50_000, 10**9, 100, 100) == 1
    assert m.settlement_cents(450_000, 50_000, 2_000_000, 100, 100) == 400_000
    assert m.settlement_cents(450_000, 50_000, 300_000, 100, 100) == 300_000
    assert m.settlement_cents(450_000, 50_000, 400_000, 100, 100) == 400_000


def test_settlement_average_clause_scales_underinsured_losses():
    assert m.settlement_cents(1_010, 10, 10**9, 50, 100) == 500
    assert m.settlement_cents(1_010, 10, 10**9, 1, 3) == 333
    assert isinstance(m.settlement_cents(1_010, 10, 10**9, 1, 3), int)
    assert m.settlement_cents(1_010, 10, 10**9, 85, 100) == 1_000  # exactly at the threshold: not scaled
    assert m.settlement_cents(1_010, 10, 10**9, 84, 100) == 840
    assert m.settlement_cents(1_010, 10, 400, 84, 100) == 400
    assert m.settlement_cents(1_010, 10, 10**9, 200, 100) == 1_000


def test_load_and_own_claims(conn):
    assert m.load_claim(conn, 2)["description"] == "storm roof"
    assert m.load_claim(conn, 99) is None
    assert m.get_own_claim(conn, HOLDER, 1) == {"id": 1, "policy_id": 10, "owner_id": 2, "description": "burst pipe",
                                                "loss_date": "2024-03-02", "amount_cents": 450_000, "status": "open",
                                                "payout_cents": None}
    assert m.get_own_claim(conn, HOLDER, 2) is None


def test_file_claim(conn):
    claim_id = m.file_claim(conn, HOLDER, 10, "flooded cellar", date(2024, 7, 1), 120_000, today=date(2024, 7, 3))
    assert m.get_own_claim(conn, HOLDER, claim_id) == {"id": claim_id, "policy_id": 10, "owner_id": 2,
                                                       "description": "flooded cellar", "loss_date": "2024-07-01",
                                                       "amount_cents": 120_000, "status": "open", "payout_cents": None}
    with pytest.raises(LookupError):
        m.file_claim(conn, HOLDER, 11, "x", date(2024, 7, 1), 1, today=date(2024, 7, 3))
    with pytest.raises(ValueError):
        m.file_claim(conn, HOLDER, 10, "x", date(2025, 1, 1), 1, today=date(2025, 1, 2))
    with pytest.raises(ValueError):
        m.file_claim(conn, HOLDER, 10, "x", date(2024, 7, 1), 1, today=date(2024, 9, 30))


def test_edit_claim_takes_editable_fields(conn):
    claim = m.edit_claim(conn, HOLDER, 1, {"description": "burst pipe, kitchen", "amount_cents": 470_000, "loss_date": "2023-06-01"})
    assert claim["description"] == "burst pipe, kitchen" and claim["amount_cents"] == 470_000
    row = conn.execute("SELECT description, loss_date, amount_cents, status, payout_cents FROM claims WHERE id = 1").fetchone()
    assert row == ("burst pipe, kitchen", "2024-03-02", 470_000, "open", None)


def test_edit_claim_refusals(conn):
    with pytest.raises(LookupError):
        m.edit_claim(conn, HOLDER, 99, {})
    with pytest.raises(PermissionError):
        m.edit_claim(conn, OTHER, 1, {"description": "x"})
    with pytest.raises(ValueError):
        m.edit_claim(conn, HOLDER, 3, {"description": "x"})


def test_documents(conn):
    first = m.attach_document(conn, HOLDER, 1, "photo.jpg", b"jpeg")
    second = m.attach_document(conn, HOLDER, 1, "invoice.pdf", b"pdf")
    assert m.claim_documents(conn, HOLDER, 1) == [(first, "photo.jpg"), (second, "invoice.pdf")]
    assert m.claim_documents(conn, OTHER, 1) == []
    digest = conn.execute("SELECT sha256 FROM documents WHERE id = ?", (first,)).fetchone()[0]
    assert digest == hashlib.sha256(b"jpeg").hexdigest()
    with pytest.raises(PermissionError):
        m.attach_document(conn, OTHER, 1, "x.pdf", b"x")
    with pytest.raises(LookupError):
        m.attach_document(conn, HOLDER, 99, "x.pdf", b"x")


def test_document_links(conn):
    doc = m.attach_document(conn, HOLDER, 1, "photo.jpg", b"jpeg")
    token = m.document_link(conn, HOLDER, doc, now=1_000.0)
    assert m.download_document(conn, token, now=1_000.0 + m.LINK_MAX_AGE) == ("photo.jpg", b"jpeg")
    with pytest.raises(PermissionError):
        m.download_document(conn, token, now=1_000.0 + m.LINK_MAX_AGE + 1)
    with pytest.raises(LookupError):
        m.document_link(conn, OTHER, doc, now=1_000.0)
    conn.execute("DELETE FROM documents")
    assert m.download_document(conn, token, now=1_001.0) is None


def test_decide_claim_approves_at_the_settlement(conn):
    assert m.decide_claim(conn, ADJUSTER, 1, approve=True) == 400_000
    assert claim_row(conn, 1) == ("approved", 400_000, 4)
    assert m.decide_claim(conn, ADJUSTER, 2, approve=True) == 100_000  # insured at half the value
    with pytest.raises(ValueError):
        m.decide_claim(conn, ADJUSTER, 1, approve=False)


def test_decide_claim_declines_and_refuses(conn):
    assert m.decide_claim(conn, ADJUSTER, 2, approve=False) == 0
    assert claim_row(conn, 2) == ("declined", 0, 4)
    with pytest.raises(ValueError):
        m.decide_claim(conn, ADJUSTER, 99, approve=True)
    with pytest.raises(PermissionError):
        m.decide_claim(conn, ADJUSTER, 4, approve=True)
    with pytest.raises(PermissionError):
        m.decide_claim(conn, HOLDER, 1, approve=True)


def test_set_payout_within_the_limit(conn):
    m.set_payout(conn, ADJUSTER, 3, 2_000_000)
    assert claim_row(conn, 3) == ("approved", 2_000_000, 4)
    m.set_payout(conn, ADJUSTER, 3, 0)
    assert claim_row(conn, 3)[1] == 0
    with pytest.raises(ValueError):
        m.set_payout(conn, ADJUSTER, 3, 2_000_001)
    with pytest.raises(ValueError):
        m.set_payout(conn, ADJUSTER, 3, -1)
    with pytest.raises(ValueError):
        m.set_payout(conn, ADJUSTER, 1, 10)
    with pytest.raises(PermissionError):
        m.set_payout(conn, HOLDER, 3, 10)
    with pytest.raises(PermissionError):
        m.set_payout(conn, ADJUSTER, 5, 90_000)
    assert claim_row(conn, 5)[1] == 30_000


def test_set_adjuster(conn):
    m.set_adjuster(conn, ADMIN, 3, True)
    assert conn.execute("SELECT is_staff FROM users WHERE id = 3").fetchone() == (1,)
    m.set_adjuster(conn, ADMIN, 4, False)
    assert conn.execute("SELECT is_staff FROM users WHERE id = 4").fetchone() == (0,)
    with pytest.raises(PermissionError):
        m.set_adjuster(conn, ADJUSTER, 2, True)


def test_update_profile(conn):
    profile = m.update_profile(conn, HOLDER, {"phone": "0999", "email": "ann@new.example", "is_staff": 1})
    assert profile == {"display_name": "Ann", "phone": "0999", "email": "ann@new.example", "is_staff": 0}
    assert conn.execute("SELECT display_name, phone, email, is_staff FROM users WHERE id = 2").fetchone() == \
        ("Ann", "0999", "ann@new.example", 0)


def test_payment_notice(conn):
    payload = json.dumps({"claim_id": 3, "amount_cents": 30_000})
    assert m.payment_notice(conn, payload, m.sign(payload, m.PAYMENT_SECRET)) == 3
    assert claim_row(conn, 3)[0] == "paid"
    with pytest.raises(ValueError):
        m.payment_notice(conn, payload, m.sign(payload, m.PAYMENT_SECRET))  # already paid
    other = json.dumps({"claim_id": 1, "amount_cents": 0})
    with pytest.raises(ValueError):
        m.payment_notice(conn, other, m.sign(other, m.SESSION_SECRET))


def test_payment_notice_must_match_the_payout(conn):
    payload = json.dumps({"claim_id": 3, "amount_cents": 30_001})
    with pytest.raises(ValueError):
        m.payment_notice(conn, payload, m.sign(payload, m.PAYMENT_SECRET))
    assert claim_row(conn, 3)[0] == "approved"


def test_sign_is_hmac_sha256():
    assert m.sign("abc", "k") == hmac.new(b"k", b"abc", hashlib.sha256).hexdigest()
    assert m.sign("abc", "k") != m.sign("abd", "k")


def test_session_tokens(conn):
    token = m.issue_token(4, "session", now=1_000.0, secret=m.SESSION_SECRET)
    actor = m.session_actor(conn, token, now=1_000.0 + m.SESSION_MAX_AGE - 1)
    assert actor == m.Actor(4, is_staff=True, is_admin=False)
    assert m.session_actor(conn, token, now=1_000.0 + m.SESSION_MAX_AGE) is None
    assert m.session_actor(conn, m.issue_token(99, "session", now=0.0, secret=m.SESSION_SECRET), now=1.0) is None
    with pytest.raises(ValueError):
        m.session_actor(conn, token[:-1] + ("0" if token[-1] != "0" else "1"), now=1_000.0)


def test_tokens_serve_only_their_purpose(conn):
    with pytest.raises(ValueError):
        m.session_actor(conn, m.issue_token(2, "document", now=0.0, secret=m.SESSION_SECRET), now=1.0)
    with pytest.raises(ValueError):
        m.download_document(conn, m.issue_token(2, "session", now=0.0, secret=m.LINK_SECRET), now=1.0)
    with pytest.raises(ValueError):
        m.download_document(conn, m.issue_token(2, "document", now=0.0, secret=m.SESSION_SECRET), now=1.0)
    assert m.token_claims(m.issue_token(5, "x", now=2.0, secret="s", max_age=3), "x", "s") == \
        {"sub": 5, "use": "x", "iat": 2.0, "exp": 5.0}
