import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from datetime import date

os.environ.setdefault("PERMITS_RECEIPT_SECRET", "test-receipt-secret")
os.environ.setdefault("PERMITS_LINK_SECRET", "test-link-secret")

import pytest

import module as m

APPLICANT = m.Actor(2)
NEIGHBOUR = m.Actor(3)
INSPECTOR = m.Actor(7, is_staff=True)
OFFICER = m.Actor(8, is_approver=True)
EASTER = frozenset({date(2024, 3, 29), date(2024, 4, 1)})


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE applications (id INTEGER PRIMARY KEY, account_id INT, kind TEXT, description TEXT, site_address TEXT,"
        " floor_area_m2 REAL, fee_pence INT, status TEXT, received_on TEXT, payment_ref TEXT, decided_on TEXT, officer_id INT);"
        "CREATE TABLE documents (application_id INT, account_id INT, name TEXT);"
        "CREATE TABLE inspections (application_id INT, stage TEXT, passed INT, inspector_id INT, inspected_on TEXT);"
    )
    db.executemany("INSERT INTO applications (id, account_id, kind, description, site_address, floor_area_m2, fee_pence, status)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [(1, 2, "householder", "rear extension", "1 Elm Road", 30, 25800, "awaiting_fee"),
                    (2, 2, "minor", "garage conversion", "1 Elm Road", 60, 46200, "received"),
                    (3, 3, "major", "six flats", "9 Oak Lane", 600, 129600, "approved"),
                    (4, 2, "householder", "loft", "1 Elm Road", 20, 25800, "approved")])
    db.executemany("INSERT INTO documents VALUES (?, ?, ?)",
                   [(1, 2, "plans.pdf"), (1, 2, "elevations.pdf"), (3, 3, "survey.pdf")])
    yield db
    db.close()


def row(db, app_id, columns="status"):
    return db.execute(f"SELECT {columns} FROM applications WHERE id = ?", (app_id,)).fetchone()


def signed(payload):
    body = json.dumps(payload)
    return body, hmac.new(b"test-receipt-secret", body.encode(), hashlib.sha256).hexdigest()


def test_fee_bands_and_their_boundaries():
    assert m.permit_fee(1) == 25800
    assert m.permit_fee(40) == 25800
    assert m.permit_fee(40.5) == 46200
    assert m.permit_fee(100) == 46200
    assert m.permit_fee(101) == 62400
    assert m.permit_fee(250) == 62400


def test_fee_beyond_the_last_band_per_started_step():
    assert m.permit_fee(251) == 62400 + 9600
    assert m.permit_fee(300) == 62400 + 9600
    assert m.permit_fee(301) == 62400 + 2 * 9600
    assert m.permit_fee(600) == 62400 + 7 * 9600


def test_resubmission_pays_half_and_area_must_be_positive():
    assert m.permit_fee(60, resubmission=True) == 23100
    assert isinstance(m.permit_fee(60, resubmission=True), int)  # pence are whole
    assert m.permit_fee(251, resubmission=True) == 36000
    assert m.permit_fee(30, resubmission=False) == 25800
    for area in (0, -5):
        with pytest.raises(ValueError):
            m.permit_fee(area)


def test_decision_deadline_counts_working_days():
    # Monday 4 March 2024: eight weeks of working days later, no holidays in between.
    assert m.decision_deadline(date(2024, 3, 4), "householder") == date(2024, 4, 29)
    # Easter Friday and Monday push it back by two working days.
    assert m.decision_deadline(date(2024, 3, 4), "householder", EASTER) == date(2024, 5, 1)
    assert m.decision_deadline(date(2024, 3, 4), "major") == date(2024, 6, 3)
    assert m.decision_deadline(date(2024, 3, 4), "minor", agreed_extra_days=5) == date(2024, 5, 6)


def test_decision_deadline_from_a_weekend_or_holiday():
    # Received on a Saturday: the first working day counted is the Monday.
    assert m.decision_deadline(date(2024, 3, 2), "householder") == date(2024, 4, 26)
    assert m.decision_deadline(date(2024, 3, 28), "householder", EASTER) == date(2024, 5, 27)
    assert m.decision_deadline(date(2024, 3, 28), "householder", frozenset()) == date(2024, 5, 23)


def test_inspection_sequence():
    assert m.next_stage(set()) == "foundations"
    assert m.next_stage({"foundations"}) == "drainage"
    assert m.next_stage({"foundations", "drainage", "structure"}) == "insulation"
    assert m.next_stage({"drainage"}) == "foundations"
    assert m.next_stage(set(m.INSPECTION_STAGES)) is None
    assert m.next_stage({"foundations"}, frozenset({"drainage"})) == "structure"
    assert m.next_stage({"foundations", "structure", "insulation"}, frozenset({"drainage"})) == "completion"
    assert m.next_stage(set(), frozenset({"foundations", "drainage"})) == "structure"


def test_extension_window():
    approved = date(2021, 6, 1)
    expiry = date(2024, 5, 31)
    assert m.extended_expiry(approved, 0, date(2024, 3, 2)) == date(2025, 5, 31)
    assert m.extended_expiry(approved, 0, date(2024, 5, 30)) == date(2025, 5, 31)
    assert m.extended_expiry(approved, 0, date(2024, 3, 1)) is None
    assert m.extended_expiry(approved, 0, expiry) is None
    assert m.extended_expiry(approved, 0, date(2024, 9, 1)) is None


def test_extensions_count_towards_expiry_and_are_limited():
    approved = date(2021, 6, 1)
    assert m.extended_expiry(approved, 1, date(2025, 5, 1)) == date(2026, 5, 31)
    assert m.extended_expiry(approved, 1, date(2024, 5, 1)) is None
    assert m.extended_expiry(approved, 2, date(2026, 5, 1)) is None
    assert m.extended_expiry(approved, 3, date(2027, 5, 1)) is None


def test_own_application_only(conn):
    assert m.get_application(conn, APPLICANT, 1) == {
        "id": 1, "account_id": 2, "kind": "householder", "description": "rear extension",
        "site_address": "1 Elm Road", "floor_area_m2": 30, "fee_pence": 25800, "status": "awaiting_fee"}
    assert m.get_application(conn, APPLICANT, 3) is None
    assert m.get_application(conn, NEIGHBOUR, 3)["description"] == "six flats"
    with pytest.raises(LookupError):
        m.load_application(conn, 99)


def test_amend_takes_allowed_fields_and_recomputes_the_fee(conn):
    amended = m.amend_application(conn, APPLICANT, 1, {"floor_area_m2": 120, "description": "two-storey extension"})
    assert amended["fee_pence"] == 62400
    assert row(conn, 1, "description, site_address, floor_area_m2, fee_pence, status") == (
        "two-storey extension", "1 Elm Road", 120, 62400, "awaiting_fee")
    m.amend_application(conn, APPLICANT, 1, {"site_address": "1a Elm Road"})
    assert row(conn, 1, "site_address, floor_area_m2, fee_pence") == ("1a Elm Road", 120, 62400)


def test_amend_refusals(conn):
    with pytest.raises(PermissionError):
        m.amend_application(conn, NEIGHBOUR, 1, {"description": "x"})
    with pytest.raises(ValueError):
        m.amend_application(conn, APPLICANT, 2, {"description": "x"})
    with pytest.raises(LookupError):
        m.amend_application(conn, APPLICANT, 99, {})
    assert row(conn, 1, "description") == ("rear extension",)


def test_amend_is_audited(conn, caplog):
    with caplog.at_level(logging.INFO, logger="permits.audit"):
        m.amend_application(conn, APPLICANT, 1, {"description": "porch"})
    assert caplog.messages == ["application 1 amended by account 2: 'porch'"]


def test_withdraw(conn, caplog):
    with caplog.at_level(logging.INFO, logger="permits.audit"):
        assert m.withdraw_application(conn, APPLICANT, 2, "sold the house") is True
    assert row(conn, 2) == ("withdrawn",)
    assert caplog.messages == ["application 2 withdrawal by account 2 (done: True), reason 'sold the house'"]
    assert m.withdraw_application(conn, APPLICANT, 4, "too late") is False
    assert row(conn, 4) == ("approved",)
    with pytest.raises(PermissionError):
        m.withdraw_application(conn, NEIGHBOUR, 1, "spite")
    assert row(conn, 1) == ("awaiting_fee",)


def test_fee_receipt_marks_the_application_received(conn):
    body, signature = signed({"application_id": 1, "amount_pence": 25800, "reference": "PAY-1"})
    assert m.record_fee_receipt(conn, body, signature, date(2024, 3, 4)) == 1
    assert row(conn, 1, "status, received_on, payment_ref") == ("received", "2024-03-04", "PAY-1")
    body, signature = signed({"application_id": 2, "amount_pence": 46200, "reference": "PAY-2"})
    with pytest.raises(ValueError):
        m.record_fee_receipt(conn, body, signature, date(2024, 3, 4))


def test_fee_receipt_refusals(conn):
    body, signature = signed({"application_id": 1, "amount_pence": 25799, "reference": "PAY-1"})
    with pytest.raises(ValueError):
        m.record_fee_receipt(conn, body, signature, date(2024, 3, 4))
    with pytest.raises(ValueError):
        m.record_fee_receipt(conn, body.replace("25799", "25800"), signature, date(2024, 3, 4))
    assert row(conn, 1) == ("awaiting_fee",)
    body, signature = signed({"application_id": 1, "amount_pence": 30000, "reference": "PAY-3"})
    m.record_fee_receipt(conn, body, signature, date(2024, 3, 5))
    assert row(conn, 1, "status, payment_ref") == ("received", "PAY-3")


def test_decide(conn):
    assert m.decide_application(conn, OFFICER, 2, approve=False, today=date(2024, 4, 2)) == "refused"
    assert row(conn, 2, "status, decided_on, officer_id") == ("refused", "2024-04-02", 8)
    with pytest.raises(ValueError):
        m.decide_application(conn, OFFICER, 1, approve=True, today=date(2024, 4, 2))
    with pytest.raises(PermissionError):
        m.decide_application(conn, INSPECTOR, 2, approve=True, today=date(2024, 4, 2))
    assert row(conn, 1) == ("awaiting_fee",)


def test_approve(conn):
    assert m.decide_application(conn, OFFICER, 2, approve=True, today=date(2024, 4, 3)) == "approved"
    assert row(conn, 2, "status, officer_id") == ("approved", 8)


def test_inspections_in_sequence(conn):
    assert m.record_inspection(conn, INSPECTOR, 3, "foundations", True, date(2024, 5, 1)) == "drainage"
    assert m.record_inspection(conn, INSPECTOR, 3, "drainage", False, date(2024, 5, 8)) == "drainage"
    with pytest.raises(ValueError):
        m.record_inspection(conn, INSPECTOR, 3, "structure", True, date(2024, 5, 9))
    assert m.record_inspection(conn, INSPECTOR, 3, "drainage", True, date(2024, 5, 10)) == "structure"
    visits = conn.execute("SELECT stage, passed, inspector_id, inspected_on FROM inspections WHERE application_id = 3").fetchall()
    assert visits == [("foundations", 1, 7, "2024-05-01"), ("drainage", 0, 7, "2024-05-08"), ("drainage", 1, 7, "2024-05-10")]
    with pytest.raises(PermissionError):
        m.record_inspection(conn, OFFICER, 3, "structure", True, date(2024, 5, 11))


def test_last_inspection(conn):
    for stage in m.INSPECTION_STAGES[:-1]:
        conn.execute("INSERT INTO inspections VALUES (4, ?, 1, 7, '2024-01-01')", (stage,))
    assert m.record_inspection(conn, INSPECTOR, 4, "completion", True, date(2024, 6, 1)) is None
    with pytest.raises(ValueError):
        m.record_inspection(conn, INSPECTOR, 4, "completion", True, date(2024, 6, 2))


def test_document_links(conn, caplog):
    with caplog.at_level(logging.INFO, logger="permits.audit"):
        link = m.document_link(conn, APPLICANT, 1, "plans.pdf", now=1000.0)
    assert caplog.messages == ["download link for 'plans.pdf' of application 1 issued to account 2"]
    token = link.split("token=", 1)[1]
    assert link.startswith("/documents/download?token=")
    assert m.open_document_link(token, now=1000.0) == (1, "plans.pdf")
    assert m.open_document_link(token, now=1000.0 + m.LINK_TTL - 1) == (1, "plans.pdf")
    with pytest.raises(PermissionError):
        m.open_document_link(token, now=1000.0 + m.LINK_TTL)
    with pytest.raises(LookupError):
        m.document_link(conn, APPLICANT, 3, "survey.pdf", now=1000.0)
    with pytest.raises(LookupError):
        m.document_link(conn, APPLICANT, 1, "survey.pdf", now=1000.0)


def test_tampered_link_is_refused(conn):
    token = m.document_link(conn, APPLICANT, 1, "plans.pdf", now=1000.0).split("token=", 1)[1]
    body, _, mac = token.rpartition(".")
    claims = json.loads(base64.urlsafe_b64decode(body))
    claims["doc"] = "survey.pdf"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    with pytest.raises(PermissionError):
        m.open_document_link(forged + "." + mac, now=1000.0)


def test_site_plan_hosts():
    fetched = []
    plan = m.fetch_site_plan("https://gis.council.example/plan?uprn=1", lambda url: fetched.append(url) or b"PDF")
    assert plan == b"PDF" and fetched == ["https://gis.council.example/plan?uprn=1"]
    for url in ("http://gis.council.example/plan", "https://evil.example/plan", "https://169.254.169.254/"):
        with pytest.raises(ValueError):
            m.fetch_site_plan(url, fetched.append)
    assert len(fetched) == 1


def test_after_login():
    assert m.after_login("/applications/2") == "/applications/2"
    assert m.after_login("https://permits.council.example/fees") == "https://permits.council.example/fees"
    for target in ("https://evil.example/", "//evil.example/x", "\\\\evil.example", "javascript:alert(1)"):
        assert m.after_login(target) == "/applications"
