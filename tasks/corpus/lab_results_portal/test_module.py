import hashlib
import hmac
import json
import os
import sqlite3

os.environ.setdefault("LAB_FEED_SECRET", "test-feed-secret")
os.environ.setdefault("LAB_LINK_SECRET", "test-link-secret")

import pytest

import module as m

PATIENT = m.Actor(2)
OTHER = m.Actor(3)
CLINICIAN = m.Actor(10, is_staff=True)
ADMIN = m.Actor(1, is_admin=True)


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE results (id INTEGER PRIMARY KEY, patient_id INT, test TEXT, value REAL, unit TEXT,"
        " released INT, released_by INT);"
        "CREATE TABLE notes (result_id INT, patient_id INT, note TEXT);"
        "CREATE TABLE shares (result_id INT, email TEXT);"
    )
    db.executemany("INSERT INTO results (id, patient_id, test, value, unit, released) VALUES (?, ?, ?, ?, ?, ?)",
                   [(1, 2, "glucose", 5.2, "mmol/L", 1), (2, 2, "sodium", 150.0, "mmol/L", 0),
                    (3, 3, "potassium", 3.1, "mmol/L", 1)])
    db.executemany("INSERT INTO notes VALUES (?, ?, ?)", [(1, 2, "fasting"), (3, 3, "repeat in a week")])
    yield db
    db.close()


def test_flag_value_bounds():
    assert m.flag_value("glucose", 3.9) == "normal"
    assert m.flag_value("glucose", 7.8) == "normal"
    assert m.flag_value("glucose", 3.8) == "low"
    assert m.flag_value("glucose", 7.9) == "high"
    assert m.flag_value("ferritin", 100.0) == "unknown"


def test_abnormal_count():
    results = [{"test": "sodium", "value": 150.0}, {"test": "sodium", "value": 140.0},
               {"test": "potassium", "value": 3.0}, {"test": "ferritin", "value": 1.0}]
    assert m.abnormal_count(results) == 2
    assert m.abnormal_count([]) == 0


def test_load_result(conn):
    assert m.load_result(conn, 2) == {"id": 2, "patient_id": 2, "test": "sodium", "value": 150.0,
                                      "unit": "mmol/L", "released": 0}
    with pytest.raises(LookupError):
        m.load_result(conn, 99)


def test_my_result_only_released_and_own(conn):
    assert m.my_result(conn, PATIENT, 1) == ("glucose", 5.2, "mmol/L")
    assert m.my_result(conn, PATIENT, 2) is None
    assert m.my_result(conn, PATIENT, 3) is None


def test_result_note(conn):
    assert m.result_note(conn, PATIENT, 1) == "fasting"
    assert m.result_note(conn, PATIENT, 3) == ""


def test_share_result(conn):
    m.share_result(conn, PATIENT, 1, " Dr.Who@Clinic.example ")
    assert conn.execute("SELECT result_id, email FROM shares").fetchall() == [(1, "dr.who@clinic.example")]
    with pytest.raises(PermissionError):
        m.share_result(conn, OTHER, 1, "x@example.org")
    with pytest.raises(ValueError):
        m.share_result(conn, PATIENT, 2, "x@example.org")


def test_update_contact():
    patients = {2: {"phone": "1", "email": "a@example.org", "language": "en", "mrn": "MRN-2"}}
    patient = m.update_contact(patients, PATIENT, {"phone": "2", "language": "fr"})
    assert patient == {"phone": "2", "email": "a@example.org", "language": "fr", "mrn": "MRN-2"}


def test_amend_and_release(conn):
    result = m.amend_result(conn, CLINICIAN, 2, {"value": 144.0})
    assert result["value"] == 144.0
    assert conn.execute("SELECT value, unit, released FROM results WHERE id = 2").fetchone() == (144.0, "mmol/L", 0)
    m.release_result(conn, CLINICIAN, 2)
    assert conn.execute("SELECT released, released_by FROM results WHERE id = 2").fetchone() == (1, 10)
    with pytest.raises(PermissionError):
        m.amend_result(conn, PATIENT, 2, {"value": 1.0})
    with pytest.raises(ValueError):
        m.amend_result(conn, CLINICIAN, 2, {"value": 1.0})
    with pytest.raises(PermissionError):
        m.release_result(conn, PATIENT, 2)


def test_erase_patient(conn):
    assert m.erase_patient(conn, ADMIN, 2) == 2
    with pytest.raises(PermissionError):
        m.erase_patient(conn, CLINICIAN, 3)


def test_signature_is_hmac_sha256():
    assert m.signature("abc", "k") == hmac.new(b"k", b"abc", hashlib.sha256).hexdigest()
    assert m.signature("abc", "k") != m.signature("abc", "l")


def test_ingest_batch(conn):
    body = json.dumps([[4, "glucose", "6.1", "mmol/L"], [4, "sodium", 139, "mmol/L"]])
    assert m.ingest_batch(conn, body, m.signature(body, m.FEED_SECRET)) == 2
    rows = conn.execute("SELECT patient_id, test, value, released FROM results WHERE patient_id = 4 ORDER BY id").fetchall()
    assert rows == [(4, "glucose", 6.1, 0), (4, "sodium", 139.0, 0)]
    with pytest.raises(ValueError):
        m.ingest_batch(conn, body, m.signature(body, m.LINK_SECRET))


def test_links_open_released_results_until_they_expire(conn):
    link = m.result_link(1, now=100.0)
    assert m.open_link(conn, link, now=100.0 + m.LINK_TTL - 1)["test"] == "glucose"
    assert m.open_link(conn, link, now=100.0 + m.LINK_TTL) is None
    assert m.open_link(conn, m.result_link(2, now=100.0), now=100.0) is None
    assert m.open_link(conn, link[:-1] + ("0" if link[-1] != "0" else "1"), now=100.0) is None
