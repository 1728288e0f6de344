import csv
import hashlib
import os
import sqlite3
from types import SimpleNamespace

import pytest

import module as m

SALT = b"pepper-salt-1234"
CALLS = []
REAL_PBKDF2 = hashlib.pbkdf2_hmac


def fast_pbkdf2(name, password, salt, rounds):
    """Stand-in for the 200k-round KDF so the suite stays fast; records its arguments."""
    CALLS.append((name, password, salt, rounds))
    return REAL_PBKDF2(name, password, salt, 1)


@pytest.fixture
def conn(monkeypatch):
    CALLS.clear()
    monkeypatch.setattr(m.hashlib, "pbkdf2_hmac", fast_pbkdf2)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE staff (username TEXT, salt BLOB, digest BLOB)")
    db.execute("CREATE TABLE patients (id INTEGER, name TEXT, born TEXT)")
    db.execute("CREATE TABLE appts (patient_id INTEGER, doctor TEXT, day TEXT, slot INTEGER)")
    db.execute("CREATE TABLE resets (token TEXT, username TEXT, expires INTEGER)")
    digest = REAL_PBKDF2("sha256", b"correct horse", SALT, 1)
    db.execute("INSERT INTO staff VALUES (?, ?, ?)", ("nurse", SALT, digest))
    db.executemany("INSERT INTO patients VALUES (?, ?, ?)", [(1, "Ann", "1980-02-01"),
                                                            (2, "Bob", "1975-07-30")])
    yield db
    db.close()


@pytest.fixture
def base(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(m, "BASE_DIR", str(folder))
    return folder


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a.csv") == os.path.join(root, "a.csv")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "x"), "../a.csv")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path), "/etc/passwd")


def test_is_local_url():
    assert m.is_local_url("/dashboard") is True
    assert m.is_local_url("/appointments?day=2") is True
    assert m.is_local_url("/") is True
    assert m.is_local_url("//evil.example") is False
    assert m.is_local_url("https://evil.example/x") is False
    assert m.is_local_url("/\\evil.example") is False
    assert m.is_local_url("dashboard") is False
    assert m.is_local_url("") is False


def test_login(conn):
    assert m.login(conn, "nurse", "correct horse") is True
    assert CALLS == [("sha256", b"correct horse", SALT, 200_000)]
    assert m.login(conn, "nurse", "wrong") is False
    assert m.login(conn, "ghost", "correct horse") is False
    assert len(CALLS) == 2


def test_after_login_redirect():
    assert m.after_login_redirect(None) == "/dashboard"
    assert m.after_login_redirect("") == "/dashboard"
    assert m.after_login_redirect("/appointments?day=2") == "/appointments?day=2"
    assert m.after_login_redirect("https://evil.example") == "/"
    assert m.after_login_redirect("//evil.example") == "/"


def test_lockout_seconds(monkeypatch):
    monkeypatch.setattr(m.random, "randint", lambda a, b: 0)
    assert [m.lockout_seconds(n) for n in range(10)] == [0, 0, 0, 10, 20, 40, 80, 160, 300, 300]
    monkeypatch.setattr(m.random, "randint", lambda a, b: a * 100 + b)
    assert m.lockout_seconds(3) == 13
    assert m.lockout_seconds(2) == 0
    assert m.lockout_seconds(12) == 303


def test_slot_label():
    assert m.slot_label(0) == "08:00"
    assert m.slot_label(1) == "08:15"
    assert m.slot_label(3) == "08:45"
    assert m.slot_label(4) == "09:00"
    assert m.slot_label(39) == "17:45"
    assert m.slot_label(59) == "22:45"


def test_book(conn):
    assert m.book(conn, 1, "dr_lee", "2024-05-02", 4) is True
    assert m.book(conn, 2, "dr_lee", "2024-05-02", 4) is False
    assert m.book(conn, 2, "dr_kim", "2024-05-02", 4) is True
    assert m.book(conn, 2, "dr_lee", "2024-05-02", 5) is True
    assert m.book(conn, 2, "dr_lee", "2024-05-03", 4) is True
    rows = conn.execute("SELECT * FROM appts ORDER BY doctor, day, slot").fetchall()
    assert rows == [(2, "dr_kim", "2024-05-02", 4), (1, "dr_lee", "2024-05-02", 4),
                    (2, "dr_lee", "2024-05-02", 5), (2, "dr_lee", "2024-05-03", 4)]


def test_patient_page_exact():
    page = m.patient_page({"name": "Ann", "born": "1980-02-01"},
                          [("2024-05-02", 4, "Dr Lee"), ("2024-05-09", 1, "Dr Kim")])
    assert page == ("<h1>Ann</h1>\n<p>Born 1980-02-01</p><ul>\n"
                    "<li>2024-05-02 09:00 with Dr Lee</li>\n"
                    "<li>2024-05-09 08:15 with Dr Kim</li>\n</ul>")
    assert m.patient_page({"name": "Bo", "born": "x"}, []) == "<h1>Bo</h1>\n<p>Born x</p><ul>\n</ul>"


def test_patient_page_escapes():
    page = m.patient_page({"name": "<b>A</b>", "born": "<i>"}, [("<u>", 0, "O'Hara & <s>")])
    assert "<b>" not in page and "<i>" not in page and "<u>" not in page and "<s>" not in page
    assert "&lt;b&gt;A&lt;/b&gt;" in page
    assert "O&#x27;Hara &amp; &lt;s&gt;" in page


def test_delete_patient(conn):
    m.book(conn, 1, "dr_lee", "2024-05-02", 4)
    m.book(conn, 1, "dr_lee", "2024-05-02", 5)
    m.book(conn, 2, "dr_lee", "2024-05-02", 6)
    with pytest.raises(PermissionError):
        m.delete_patient(conn, SimpleNamespace(is_admin=False), 1)
    assert conn.execute("SELECT COUNT(*) FROM appts").fetchone() == (3,)
    assert m.delete_patient(conn, SimpleNamespace(is_admin=True), 1) == 1
    assert conn.execute("SELECT patient_id FROM appts").fetchall() == [(2,)]
    assert conn.execute("SELECT id FROM patients").fetchall() == [(2,)]
    assert m.delete_patient(conn, SimpleNamespace(is_admin=True), 99) == 0


def test_reset_token_lifecycle(conn):
    token = m.create_reset_token(conn, "nurse", now=1_000)
    assert len(token) == 32
    assert m.consume_reset_token(conn, token, now=1_000 + 3_599) == "nurse"
    assert m.consume_reset_token(conn, token, now=1_001) is None
    assert m.consume_reset_token(conn, "unknown", now=1_000) is None


def test_reset_token_expiry(conn):
    first = m.create_reset_token(conn, "nurse", now=0)
    second = m.create_reset_token(conn, "nurse", now=0)
    assert first != second
    assert m.consume_reset_token(conn, first, now=3_600) is None
    assert m.consume_reset_token(conn, second, now=0) == "nurse"


def test_export_schedule(conn, base):
    m.book(conn, 2, "dr_kim", "2024-05-02", 5)
    m.book(conn, 1, "dr_lee", "2024-05-02", 0)
    m.book(conn, 1, "dr_lee", "2024-05-03", 1)
    path = m.export_schedule(conn, "2024-05-02", "may2.csv")
    assert path == os.path.join(os.path.realpath(base), "may2.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["08:00", "dr_lee", "1"], ["09:15", "dr_kim", "2"]]
    with pytest.raises(ValueError):
        m.export_schedule(conn, "2024-05-02", "../../escape.csv")
