import hashlib
import hmac
import json
import logging
import os
import sqlite3
from datetime import date

os.environ.setdefault("ESIGN_LINK_SECRET", "test-link-secret")
os.environ.setdefault("ESIGN_SEAL_SECRET", "test-seal-secret")

import pytest

import module as m

SENDER = m.Actor(1, account_id=10)
ADMIN = m.Actor(2, account_id=10, is_admin=True)
COLLEAGUE = m.Actor(3, account_id=10)
OTHER_ADMIN = m.Actor(8, account_id=20, is_admin=True)
SIGNER_A = m.Actor(5, account_id=30)
SIGNER_B = m.Actor(6, account_id=30)
NDA_SHA = hashlib.sha256(b"mutual nda").hexdigest()
NOW = 1_700_000_000.0


class Storage:
    def __init__(self):
        self.posts = []

    def post(self, url, body):
        self.posts.append((url, json.loads(body)))

    def get(self, url):
        self.posts.append((url, None))
        return b"mutual nda"


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE envelopes (id INTEGER PRIMARY KEY, account_id INT, owner_id INT, title TEXT, message TEXT,"
        " status TEXT, reminder_every INT, callback_url TEXT, document_sha256 TEXT, seal TEXT);"
        "CREATE TABLE recipients (id INTEGER PRIMARY KEY, envelope_id INT, user_id INT, routing_order INT, status TEXT);"
    )
    db.executemany("INSERT INTO envelopes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", [
        (1, 10, 1, "Mutual NDA", "Please sign", "sent", 2, "https://files.cloudbox.example/hooks/nda", NDA_SHA),
        (2, 10, 3, "Office lease", "", "draft", 3, "https://dms.lawfirm.example/cb", "ab" * 32),
        (3, 20, 8, "Supply agreement", "", "in_progress", 2, "https://drive.docstore.example/x", "cd" * 32),
        (4, 10, 1, "Old offer", "", "completed", 2, "https://files.cloudbox.example/o", "ef" * 32),
    ])
    db.executemany("INSERT INTO recipients VALUES (?, ?, ?, ?, ?)", [
        (11, 1, 5, 1, "pending"), (13, 1, 7, 2, "pending"), (12, 1, 6, 2, "pending"),
        (21, 2, 5, 1, "pending"), (31, 3, 6, 1, "signed"), (32, 3, 7, 2, "pending"),
    ])
    yield db
    db.close()


def status(db, envelope_id):
    return db.execute("SELECT status FROM envelopes WHERE id = ?", (envelope_id,)).fetchone()[0]


def recipient(rid, order, state="pending"):
    return {"id": rid, "routing_order": order, "status": state}


def test_business_days_left_counts_weekdays_after_today():
    monday = date(2024, 3, 4)
    assert m.business_days_left(monday, date(2024, 3, 8)) == 4
    assert m.business_days_left(monday, date(2024, 3, 11)) == 5
    assert m.business_days_left(monday, date(2024, 3, 10)) == 4
    assert m.business_days_left(monday, date(2024, 3, 5)) == 1
    assert m.business_days_left(monday, monday) == 0
    assert m.business_days_left(monday, date(2024, 3, 1)) == 0
    assert m.business_days_left(date(2024, 3, 8), date(2024, 3, 10)) == 0
    assert m.business_days_left(date(2024, 3, 9), date(2024, 3, 11)) == 1


def test_reminder_dates_stop_before_expiry():
    sent = date(2024, 3, 1)
    assert m.reminder_dates(sent, date(2024, 3, 8), 2) == [date(2024, 3, 3), date(2024, 3, 5), date(2024, 3, 7)]
    assert m.reminder_dates(sent, date(2024, 3, 7), 2) == [date(2024, 3, 3), date(2024, 3, 5)]
    assert m.reminder_dates(sent, date(2024, 3, 8), 7) == []
    assert m.reminder_dates(sent, date(2024, 3, 9), 7) == [date(2024, 3, 8)]
    assert m.reminder_dates(sent, date(2024, 3, 9), 1)[0] == date(2024, 3, 2)
    assert m.reminder_dates(sent, date(2024, 3, 9), 0) == []
    assert m.reminder_dates(sent, date(2024, 3, 9), -1) == []


def test_current_signers_follow_routing_order():
    people = [recipient(1, 1, "signed"), recipient(2, 2), recipient(3, 2), recipient(4, 3)]
    assert [r["id"] for r in m.current_signers(people)] == [2, 3]
    people[1]["status"] = "signed"
    assert [r["id"] for r in m.current_signers(people)] == [3]
    people[2]["status"] = "signed"
    assert [r["id"] for r in m.current_signers(people)] == [4]
    assert m.current_signers([recipient(1, 1, "signed")]) == []
    assert m.current_signers([]) == []
    assert [r["id"] for r in m.current_signers([recipient(9, 5), recipient(8, 4)])] == [8]


def test_envelope_status():
    assert m.envelope_status([]) == "sent"
    assert m.envelope_status([recipient(1, 1), recipient(2, 2)]) == "sent"
    assert m.envelope_status([recipient(1, 1, "signed"), recipient(2, 2)]) == "in_progress"
    assert m.envelope_status([recipient(1, 1, "signed"), recipient(2, 2, "signed")]) == "completed"
    assert m.envelope_status([recipient(1, 1, "signed"), recipient(2, 2, "declined")]) == "declined"
    assert m.envelope_status([recipient(1, 1, "declined")]) == "declined"


def test_load_envelope_and_recipients(conn):
    envelope = m.load_envelope(conn, 1)
    assert envelope["title"] == "Mutual NDA" and envelope["owner_id"] == 1 and envelope["document_sha256"] == NDA_SHA
    assert envelope["callback_url"] == "https://files.cloudbox.example/hooks/nda"
    with pytest.raises(LookupError):
        m.load_envelope(conn, 99)
    assert [r["id"] for r in m.load_recipients(conn, 1)] == [11, 12, 13]
    assert m.load_recipients(conn, 1)[0] == {"id": 11, "envelope_id": 1, "user_id": 5, "routing_order": 1, "status": "pending"}


def test_view_envelope_for_invited_recipients(conn):
    assert m.view_envelope(conn, SIGNER_A, 1) == (1, "Mutual NDA", "Please sign", "sent")
    assert m.view_envelope(conn, SIGNER_B, 3) == (3, "Supply agreement", "", "in_progress")
    assert m.view_envelope(conn, SIGNER_B, 2) is None
    assert m.view_envelope(conn, SIGNER_A, 2) is None


def test_account_envelopes(conn):
    assert m.account_envelopes(conn, ADMIN, "sent") == [(1, 1, "Mutual NDA")]
    assert m.account_envelopes(conn, ADMIN, "completed") == [(4, 1, "Old offer")]
    assert m.account_envelopes(conn, OTHER_ADMIN, "in_progress") == [(3, 8, "Supply agreement")]
    with pytest.raises(PermissionError):
        m.account_envelopes(conn, SENDER, "sent")


def test_check_manager(conn):
    envelope = m.load_envelope(conn, 1)
    m.check_manager(envelope, SENDER)
    m.check_manager(envelope, ADMIN)
    with pytest.raises(PermissionError):
        m.check_manager(envelope, COLLEAGUE)
    with pytest.raises(PermissionError):
        m.check_manager(envelope, OTHER_ADMIN)


def test_update_envelope_edits_a_draft(conn):
    changed = m.update_envelope(conn, COLLEAGUE, 2, {"title": "Office lease 2024", "reminder_every": 5})
    assert changed["title"] == "Office lease 2024" and changed["message"] == ""
    row = conn.execute("SELECT title, message, reminder_every, status, callback_url FROM envelopes WHERE id = 2").fetchone()
    assert row == ("Office lease 2024", "", 5, "draft", "https://dms.lawfirm.example/cb")
    m.update_envelope(conn, COLLEAGUE, 2, {"message": "Two copies"})
    assert conn.execute("SELECT title, message FROM envelopes WHERE id = 2").fetchone() == ("Office lease 2024", "Two copies")


def test_update_envelope_refusals(conn):
    with pytest.raises(PermissionError):
        m.update_envelope(conn, SENDER, 2, {"title": "x"})
    with pytest.raises(ValueError):
        m.update_envelope(conn, SENDER, 1, {"title": "x"})
    with pytest.raises(LookupError):
        m.update_envelope(conn, SENDER, 99, {})


def test_links_are_signed_and_bound_to_their_purpose():
    token = m.issue_link("sign", 1, 11, NOW)
    body, _, mac = token.rpartition(".")
    assert mac == hmac.new(b"test-link-secret", body.encode(), hashlib.sha256).hexdigest()
    claims = m.link_claims(token, "sign")
    assert claims == {"use": "sign", "env": 1, "rcp": 11, "iat": NOW, "exp": NOW + m.LINK_TTL}
    with pytest.raises(ValueError):
        m.link_claims(token, "download")
    with pytest.raises(ValueError):
        m.link_claims(token[:-1] + ("0" if token[-1] != "0" else "1"), "sign")


def test_send_links_for_the_first_routing_step(conn, caplog):
    with caplog.at_level(logging.INFO, logger="esign"):
        links = m.send_links(conn, COLLEAGUE, 2, NOW)
    assert caplog.messages == ["envelope 2 'Office lease' sent by user 3"]
    assert status(conn, 2) == "sent"
    assert [m.link_claims(link, "sign")["rcp"] for link in links] == [21]
    links = m.send_links(conn, ADMIN, 1, NOW)
    assert [m.link_claims(link, "sign")["rcp"] for link in links] == [11]
    assert status(conn, 1) == "sent"
    with pytest.raises(ValueError):
        m.send_links(conn, SENDER, 4, NOW)
    with pytest.raises(PermissionError):
        m.send_links(conn, COLLEAGUE, 1, NOW)


def test_void_envelope(conn, caplog):
    with caplog.at_level(logging.INFO, logger="esign"):
        m.void_envelope(conn, ADMIN, 1, "wrong counterparty")
    assert status(conn, 1) == "voided"
    assert caplog.messages == ["envelope 1 voided by user 2: 'wrong counterparty'"]
    with pytest.raises(ValueError):
        m.void_envelope(conn, ADMIN, 1, "again")
    with pytest.raises(ValueError):
        m.void_envelope(conn, SENDER, 4, "too late")
    with pytest.raises(PermissionError):
        m.void_envelope(conn, OTHER_ADMIN, 2, "not mine")
    assert status(conn, 2) == "draft"


def test_open_signing_link(conn):
    token = m.issue_link("sign", 1, 11, NOW)
    assert m.open_signing_link(conn, token, NOW + m.LINK_TTL - 1)["id"] == 11
    with pytest.raises(ValueError):
        m.open_signing_link(conn, token, NOW + m.LINK_TTL)
    with pytest.raises(ValueError):
        m.open_signing_link(conn, m.issue_link("sign", 1, 12, NOW), NOW)
    with pytest.raises(ValueError):
        m.open_signing_link(conn, m.issue_link("download", 1, 11, NOW), NOW)
    with pytest.raises(ValueError):
        m.open_signing_link(conn, m.issue_link("sign", 2, 21, NOW), NOW)
    assert m.open_signing_link(conn, m.issue_link("sign", 3, 32, NOW), NOW)["user_id"] == 7


def test_signing_in_order_completes_and_seals(conn):
    storage = Storage()
    assert m.record_signature(conn, storage, m.issue_link("sign", 1, 11, NOW), NOW) == "in_progress"
    assert status(conn, 1) == "in_progress"
    assert m.record_signature(conn, storage, m.issue_link("sign", 1, 13, NOW), NOW + 60) == "in_progress"
    assert storage.posts == []
    with pytest.raises(ValueError):
        m.record_signature(conn, storage, m.issue_link("sign", 1, 13, NOW), NOW + 90)
    assert m.record_signature(conn, storage, m.issue_link("sign", 1, 12, NOW), NOW + 120) == "completed"
    seal = conn.execute("SELECT seal FROM envelopes WHERE id = 1").fetchone()[0]
    assert seal == hmac.new(b"test-seal-secret", f"1:{NDA_SHA}".encode(), hashlib.sha256).hexdigest()
    assert storage.posts == [("https://files.cloudbox.example/hooks/nda", {"envelope_id": 1, "seal": seal})]
    assert status(conn, 1) == "completed"
    assert m.verify_certificate(1, b"mutual nda", seal) is True
    assert m.verify_certificate(1, b"mutual nda, amended", seal) is False
    assert m.verify_certificate(2, b"mutual nda", seal) is False
    assert m.verify_certificate(1, b"mutual nda", "0" * 64) is False


def test_notify_storage_only_to_storage_hosts():
    storage = Storage()
    envelope = {"id": 7, "callback_url": "https://drive.docstore.example/hook?id=7"}
    assert m.notify_storage(storage, envelope, "s") is True
    assert storage.posts == [("https://drive.docstore.example/hook?id=7", {"envelope_id": 7, "seal": "s"})]
    assert m.notify_storage(storage, {"id": 7, "callback_url": "https://example.org/hook"}, "s") is False
    assert len(storage.posts) == 1


def test_contract_digest_from_storage_hosts_only():
    storage = Storage()
    assert m.contract_digest(storage, "https://dms.lawfirm.example/matters/7/nda.pdf?v=2") == NDA_SHA
    assert storage.posts == [("https://dms.lawfirm.example/matters/7/nda.pdf?v=2", None)]
    with pytest.raises(ValueError):
        m.contract_digest(storage, "https://evil.example/nda.pdf")
    assert len(storage.posts) == 1


def test_decline(conn, caplog):
    with caplog.at_level(logging.INFO, logger="esign"):
        m.decline(conn, m.issue_link("sign", 3, 32, NOW), NOW, "price changed")
    assert status(conn, 3) == "declined"
    assert conn.execute("SELECT status FROM recipients WHERE id = 32").fetchone() == ("declined",)
    assert conn.execute("SELECT status FROM recipients WHERE id = 31").fetchone() == ("signed",)
    assert caplog.messages == ["recipient 32 declined envelope 3: 'price changed'"]
    with pytest.raises(ValueError):
        m.open_signing_link(conn, m.issue_link("sign", 3, 32, NOW), NOW)
