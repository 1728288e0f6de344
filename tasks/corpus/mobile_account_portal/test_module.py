import hashlib
import hmac
import json
import os
import sqlite3
from datetime import date

os.environ.setdefault("PORTAL_ROAMING_SECRET", "test-roaming-secret")
os.environ.setdefault("PORTAL_SESSION_SECRET", "test-session-secret")

import pytest

import module as m

SUBSCRIBER = m.Actor(2)
OTHER = m.Actor(3)
AGENT = m.Actor(50, is_staff=True)


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE lines (id INTEGER PRIMARY KEY, account_id INT, msisdn TEXT, plan_code TEXT, status TEXT,"
        " nickname TEXT, roaming_enabled INT, iccid TEXT);"
        "CREATE TABLE bills (id INTEGER PRIMARY KEY, account_id INT, period TEXT, total_pence INT, credit_pence INT, due TEXT);"
        "CREATE TABLE usage (line_id INT, account_id INT, kind TEXT, units INT, zone TEXT);"
        "CREATE TABLE port_codes (line_id INT, code TEXT, issued_at REAL, expires_at REAL, used INT);"
        "CREATE TABLE adjustments (line_id INT, pence INT);"
    )
    db.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [(1, 2, "447700900001", "SIMO5", "active", "work", 0, "8944000000000000001"),
                    (2, 2, "447700900002", "UNLIMITED", "active", "kids", 1, "8944000000000000002"),
                    (3, 3, "447700900003", "SIMO30", "active", "", 0, "8944000000000000003")])
    db.executemany("INSERT INTO bills VALUES (?, ?, ?, ?, ?, ?)",
                   [(10, 2, "2024-04", 1830, 0, "2024-05-15"), (11, 3, "2024-04", 1500, 200, "2024-05-15")])
    db.executemany("INSERT INTO usage VALUES (?, ?, ?, ?, ?)",
                   [(1, 2, "data", 700, "home"), (1, 2, "voice", 95, "eu"), (3, 3, "sms", 4, "home")])
    yield db
    db.close()


def line_row(db, line_id):
    return db.execute("SELECT plan_code, status, iccid FROM lines WHERE id = ?", (line_id,)).fetchone()


def port_rows(db, line_id):
    return db.execute("SELECT code, issued_at, expires_at, used FROM port_codes WHERE line_id = ?", (line_id,)).fetchall()


def test_billable_units_rounds_calls_up_to_started_minutes():
    assert m.billable_units({"kind": "voice", "units": 60}) == 1
    assert m.billable_units({"kind": "voice", "units": 61}) == 2
    assert m.billable_units({"kind": "voice", "units": 1}) == 1
    assert m.billable_units({"kind": "voice", "units": 0}) == 0
    assert m.billable_units({"kind": "data", "units": 250}) == 250
    assert m.billable_units({"kind": "sms", "units": 3}) == 3


def test_consume_allowance_draws_home_and_eu_usage():
    allowance = {"data": 1000, "voice": 10, "sms": 100}
    records = [{"kind": "data", "units": 600, "zone": "home"}, {"kind": "data", "units": 500, "zone": "eu"},
               {"kind": "data", "units": 50, "zone": "world1"}, {"kind": "voice", "units": 125, "zone": "home"},
               {"kind": "voice", "units": 600, "zone": "eu"}, {"kind": "sms", "units": 5, "zone": "home"},
               {"kind": "sms", "units": 9, "zone": "world2"}]
    assert m.consume_allowance(allowance, records) == {"data": 100, "voice": 3, "sms": 0}
    assert allowance == {"data": 0, "voice": 0, "sms": 95}


def test_consume_allowance_at_the_exact_allowance():
    allowance = {"data": 300, "voice": 5, "sms": 2}
    records = [{"kind": "data", "units": 300, "zone": "home"}, {"kind": "voice", "units": 300, "zone": "home"},
               {"kind": "sms", "units": 1, "zone": "eu"}]
    assert m.consume_allowance(allowance, records) == {"data": 0, "voice": 0, "sms": 0}
    assert allowance == {"data": 0, "voice": 0, "sms": 1}
    assert m.consume_allowance({"data": 5}, []) == {"data": 0}


def test_roaming_charge_by_zone():
    records = [{"kind": "data", "units": 900, "zone": "home"}, {"kind": "data", "units": 400, "zone": "eu"},
               {"kind": "data", "units": 10, "zone": "world1"}, {"kind": "voice", "units": 61, "zone": "world2"},
               {"kind": "sms", "units": 2, "zone": "world1"}]
    assert m.roaming_charge(records) == 10 * 20 + 2 * 120 + 2 * 15
    assert m.roaming_charge([{"kind": "sms", "units": 1, "zone": "world2"}]) == 30
    assert m.roaming_charge([]) == 0
    with pytest.raises(ValueError):
        m.roaming_charge([{"kind": "data", "units": 1, "zone": "mars"}])


def test_prorated_change():
    assert m.prorated_change(800, 1500, 1, 30) == 700
    assert m.prorated_change(800, 1500, 2, 30) == 677
    assert m.prorated_change(800, 1500, 16, 30) == 350
    assert m.prorated_change(800, 1500, 30, 30) == 23
    assert m.prorated_change(1500, 800, 11, 30) == -467
    assert m.prorated_change(1500, 1500, 5, 31) == 0
    with pytest.raises(ValueError):
        m.prorated_change(800, 1500, 0, 30)
    with pytest.raises(ValueError):
        m.prorated_change(800, 1500, 31, 30)


def test_due_date_skips_weekends():
    assert m.due_date(date(2024, 5, 1)) == date(2024, 5, 15)
    assert m.due_date(date(2024, 5, 3)) == date(2024, 5, 17)
    assert m.due_date(date(2024, 5, 4)) == date(2024, 5, 20)
    assert m.due_date(date(2024, 5, 5)) == date(2024, 5, 20)
    assert m.due_date(date(2024, 5, 6)) == date(2024, 5, 20)


def test_lines_bills_and_usage_of_the_subscriber_only(conn):
    line = m.get_line(conn, SUBSCRIBER, 2)
    assert line == {"id": 2, "account_id": 2, "msisdn": "447700900002", "plan_code": "UNLIMITED", "status": "active",
                    "nickname": "kids", "roaming_enabled": 1}
    assert m.get_line(conn, SUBSCRIBER, 3) is None
    assert m.get_bill(conn, SUBSCRIBER, 10) == ("2024-04", 1830, 0, "2024-05-15")
    assert m.get_bill(conn, SUBSCRIBER, 11) is None
    assert m.line_usage(conn, SUBSCRIBER, 1) == [{"kind": "data", "units": 700, "zone": "home"},
                                                 {"kind": "voice", "units": 95, "zone": "eu"}]
    assert m.line_usage(conn, SUBSCRIBER, 3) == []


def test_load_line(conn):
    assert m.load_line(conn, 3)["account_id"] == 3
    with pytest.raises(LookupError):
        m.load_line(conn, 99)


def test_update_profile_takes_the_editable_fields():
    profiles = {2: {"display_name": "Ann", "email": "a@example.org", "credit_limit_pence": 5000}}
    profile = m.update_profile(profiles, SUBSCRIBER, {"display_name": "Ann B", "marketing_opt_in": False})
    assert profile == {"display_name": "Ann B", "email": "a@example.org", "credit_limit_pence": 5000,
                       "marketing_opt_in": False}
    assert profiles[2] is profile


def test_change_plan_records_the_prorated_difference(conn):
    due = m.change_plan(conn, SUBSCRIBER, 1, "SIMO30", date(2024, 4, 2), date(2024, 4, 1), 30)
    assert due == 677
    assert line_row(conn, 1)[0] == "SIMO30"
    assert conn.execute("SELECT line_id, pence FROM adjustments").fetchall() == [(1, 677)]
    assert m.change_plan(conn, SUBSCRIBER, 2, "SIMO5", date(2024, 4, 30), date(2024, 4, 1), 30) == -57


def test_change_plan_refusals(conn):
    with pytest.raises(PermissionError):
        m.change_plan(conn, OTHER, 1, "UNLIMITED", date(2024, 4, 2), date(2024, 4, 1), 30)
    with pytest.raises(ValueError):
        m.change_plan(conn, SUBSCRIBER, 1, "GOLD", date(2024, 4, 2), date(2024, 4, 1), 30)
    assert line_row(conn, 1)[0] == "SIMO5"
    assert conn.execute("SELECT COUNT(*) FROM adjustments").fetchone() == (0,)


def test_request_port_code(conn):
    code = m.request_port_code(conn, SUBSCRIBER, 1, now=1000.0)
    assert code.startswith("PAC") and len(code) == 9
    assert all(ch in m.CODE_ALPHABET for ch in code[3:])
    assert port_rows(conn, 1) == [(code, 1000.0, 1000.0 + m.PORT_CODE_TTL, 0)]
    second = m.request_port_code(conn, SUBSCRIBER, 1, now=2000.0)
    assert port_rows(conn, 1) == [(second, 2000.0, 2000.0 + m.PORT_CODE_TTL, 0)]
    with pytest.raises(PermissionError):
        m.request_port_code(conn, OTHER, 2, now=1000.0)
    assert port_rows(conn, 2) == []


def test_port_out_with_a_valid_code(conn):
    code = m.request_port_code(conn, SUBSCRIBER, 1, now=1000.0)
    m.port_out(conn, AGENT, 1, code, now=1000.0 + m.PORT_CODE_TTL - 1)
    assert line_row(conn, 1)[1] == "ported_out"
    assert port_rows(conn, 1)[0][3] == 1
    with pytest.raises(ValueError, match="already used"):
        m.port_out(conn, AGENT, 1, code, now=1001.0)


def test_port_out_refusals(conn):
    code = m.request_port_code(conn, SUBSCRIBER, 1, now=1000.0)
    with pytest.raises(PermissionError):
        m.port_out(conn, SUBSCRIBER, 1, code, now=1001.0)
    with pytest.raises(ValueError, match="wrong"):
        m.port_out(conn, AGENT, 1, "PAC000000", now=1001.0)
    with pytest.raises(ValueError, match="expired"):
        m.port_out(conn, AGENT, 1, code, now=1000.0 + m.PORT_CODE_TTL)
    with pytest.raises(ValueError, match="no port-out code"):
        m.port_out(conn, AGENT, 2, code, now=1001.0)
    assert line_row(conn, 1)[1] == "active" and port_rows(conn, 1)[0][3] == 0


def test_swap_sim(conn):
    m.request_port_code(conn, SUBSCRIBER, 1, now=1000.0)
    m.swap_sim(conn, AGENT, 1, "8944000000000000999")
    assert line_row(conn, 1)[2] == "8944000000000000999"
    assert port_rows(conn, 1) == []
    m.swap_sim(conn, AGENT, 2, "89440000000000009999")
    assert line_row(conn, 2)[2] == "89440000000000009999"
    for bad in ("894400000000000099", "7944000000000000999", "89440000000000009x9", "894400000000000099999"):
        with pytest.raises(ValueError):
            m.swap_sim(conn, AGENT, 1, bad)
    with pytest.raises(PermissionError):
        m.swap_sim(conn, SUBSCRIBER, 1, "8944000000000000123")
    assert line_row(conn, 1)[2] == "8944000000000000999"


def test_sign_is_hmac_sha256():
    assert m.sign("abc", "k") == hmac.new(b"k", b"abc", hashlib.sha256).hexdigest()
    assert m.sign("abc", "k") != m.sign("abd", "k")


def test_ingest_roaming(conn):
    body = json.dumps([{"msisdn": "447700900002", "kind": "data", "units": 42, "zone": "world1"},
                       {"msisdn": "447700900003", "kind": "voice", "units": "90", "zone": "eu"},
                       {"msisdn": "447700900999", "kind": "sms", "units": 1, "zone": "world2"}])
    assert m.ingest_roaming(conn, body, m.sign(body, m.ROAMING_SECRET)) == 2
    rows = conn.execute("SELECT line_id, account_id, kind, units, zone FROM usage WHERE zone != 'home' AND line_id != 1").fetchall()
    assert rows == [(2, 2, "data", 42, "world1"), (3, 3, "voice", 90, "eu")]


def test_ingest_roaming_refusals(conn):
    body = json.dumps([{"msisdn": "447700900002", "kind": "data", "units": 42, "zone": "world1"}])
    with pytest.raises(ValueError):
        m.ingest_roaming(conn, body, m.sign(body, m.SESSION_SECRET))
    for record in ({"msisdn": "447700900002", "kind": "mms", "units": 1, "zone": "eu"},
                   {"msisdn": "447700900002", "kind": "data", "units": 1, "zone": "home"}):
        bad = json.dumps([record])
        with pytest.raises(ValueError):
            m.ingest_roaming(conn, bad, m.sign(bad, m.ROAMING_SECRET))
    assert conn.execute("SELECT COUNT(*) FROM usage").fetchone() == (3,)


def test_sessions():
    token = m.issue_session(2, now=1000.0)
    assert m.session_account(token, now=1000.0) == 2
    assert m.session_account(token, now=1000.0 + m.SESSION_TTL - 1) == 2
    assert m.session_account(token, now=1000.0 + m.SESSION_TTL) is None
    assert m.session_account(token[:-1] + ("0" if token[-1] != "0" else "1"), now=1000.0) is None
    body = json.dumps({"sub": 2, "issued_at": 1000.0, "exp": 1000.0 + m.SESSION_TTL})
    assert token == body + "." + m.sign(body, m.SESSION_SECRET)


def test_after_login_stays_on_the_portal():
    assert m.after_login("/bills/10") == "/bills/10"
    assert m.after_login("https://my.telco.example/usage?line=1") == "https://my.telco.example/usage?line=1"
    assert m.after_login("https://evil.example/") == "/account"
    assert m.after_login("//evil.example/x") == "/account"
    assert m.after_login("/\\evil.example") == "/account"
    assert m.after_login("http://my.telco.example/") == "/account"
    assert m.after_login("javascript:alert(1)") == "/account"


def test_fetch_manual_from_manufacturers_only(monkeypatch):
    fetched = []
    monkeypatch.setattr(m, "_download", lambda url: fetched.append(url) or b"%PDF-1.7")
    assert m.fetch_manual("https://docs.phonebrand.example/x200.pdf") == b"%PDF-1.7"
    for url in ("http://docs.phonebrand.example/x200.pdf", "https://evil.example/x200.pdf",
                "https://docs.phonebrand.example.evil.example/x.pdf"):
        with pytest.raises(ValueError):
            m.fetch_manual(url)
    assert fetched == ["https://docs.phonebrand.example/x200.pdf"]
