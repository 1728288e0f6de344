import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from types import SimpleNamespace

import pytest

os.environ.setdefault("TICKET_LINK_SECRET", "test-link-secret")

import module as m  # noqa: E402

ANN = m.Caller(10)
BOB = m.Caller(11)
ADMIN = m.Caller(1, is_admin=True)
AGENT = m.Caller(2, is_staff=True)
OTHER_AGENT = m.Caller(3, is_staff=True)


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, author_id INT, title TEXT,"
                 " priority INT, status TEXT)")
    conn.execute("CREATE TABLE messages (ticket_id INT, author INT, body TEXT)")
    conn.execute("CREATE TABLE api_tokens (digest TEXT, user_id INT, is_admin INT)")
    conn.execute("CREATE TABLE assignments (ticket_id INTEGER PRIMARY KEY, agent_id INT)")
    yield conn
    conn.close()


@pytest.fixture
def base(tmp_path, monkeypatch):
    root = tmp_path / "attachments"
    root.mkdir()
    monkeypatch.setattr(m, "BASE_DIR", str(root))
    return root


def test_caller_defaults_to_non_admin():
    assert m.Caller(5).is_admin is False
    assert m.Caller(5).is_staff is False


def test_open_ticket_stores_ticket_and_first_message(db):
    first = m.open_ticket(db, ANN, "Printer on fire", "Smoke everywhere", 4)
    second = m.open_ticket(db, BOB, "Password reset", "Locked out")
    assert (first, second) == (1, 2)
    assert db.execute("SELECT * FROM tickets ORDER BY id").fetchall() == [
        (1, 10, "Printer on fire", 4, "open"), (2, 11, "Password reset", 2, "open")]
    assert db.execute("SELECT * FROM messages").fetchall() == [
        (1, 10, "Smoke everywhere"), (2, 11, "Locked out")]


def test_open_ticket_validation(db):
    for title, priority in [("", 2), ("   ", 2), ("ok", 5), ("ok", 0)]:
        with pytest.raises(ValueError):
            m.open_ticket(db, ANN, title, "body", priority)
    assert m.open_ticket(db, ANN, "ok", "body", 1) == 1
    assert db.execute("SELECT COUNT(*) FROM tickets").fetchone() == (1,)


def test_get_ticket(db):
    m.open_ticket(db, ANN, "VPN down", "since 9am", 3)
    assert m.get_ticket(db, 1) == {"id": 1, "author_id": 10, "title": "VPN down", "priority": 3,
                                   "status": "open"}
    assert m.get_ticket(db, 2) is None


def test_list_tickets_orders_by_priority_then_age(db):
    for title, priority in [("a", 2), ("b", 4), ("c", 2), ("d", 3), ("e", 1)]:
        m.open_ticket(db, ANN, title, "", priority)
    m.set_status(db, ADMIN, 5, "pending")
    assert [row[0] for row in m.list_tickets(db)] == [2, 4, 1, 3]
    assert [row[0] for row in m.list_tickets(db, limit=2)] == [2, 1]
    assert [row[0] for row in m.list_tickets(db, "pending")] == [5]
    assert m.list_tickets(db, "closed") == []


def test_list_tickets_ties_keep_oldest_first(db):
    m.open_ticket(db, BOB, "first", "", 3)
    m.open_ticket(db, ANN, "second", "", 3)
    assert [row[0] for row in m.list_tickets(db)] == [1, 2]


def test_list_tickets_default_limit(db):
    for index in range(55):
        m.open_ticket(db, ANN, f"t{index}", "")
    assert len(m.list_tickets(db)) == 50


def test_set_status_author_may_only_close(db):
    m.open_ticket(db, ANN, "mine", "")
    with pytest.raises(PermissionError):
        m.set_status(db, ANN, 1, "pending")
    with pytest.raises(PermissionError):
        m.set_status(db, BOB, 1, "closed")
    m.set_status(db, ANN, 1, "closed")
    assert m.get_ticket(db, 1)["status"] == "closed"
    with pytest.raises(PermissionError):
        m.set_status(db, ANN, 1, "open")


def test_set_status_admin_and_validation(db):
    m.open_ticket(db, ANN, "mine", "")
    m.set_status(db, ADMIN, 1, "closed")
    m.set_status(db, ADMIN, 1, "open")
    assert m.get_ticket(db, 1)["status"] == "open"
    with pytest.raises(ValueError):
        m.set_status(db, ADMIN, 1, "archived")
    with pytest.raises(ValueError):
        m.set_status(db, ADMIN, 99, "closed")


def test_delete_ticket_admin_only(db):
    m.open_ticket(db, ANN, "a", "")
    m.open_ticket(db, ANN, "b", "")
    with pytest.raises(PermissionError):
        m.delete_ticket(db, ANN, 1)
    assert m.delete_ticket(db, ADMIN, 1) is True
    assert m.delete_ticket(db, ADMIN, 1) is False
    assert [row[0] for row in db.execute("SELECT id FROM tickets")] == [2]


def test_save_and_read_attachment(base):
    name = m.save_attachment(7, "log.txt", b"trace")
    assert name == os.path.join("7", "log.txt")
    assert (base / "7" / "log.txt").read_bytes() == b"trace"
    assert m.read_attachment(name) == b"trace"


def test_attachment_size_limit(base):
    assert m.save_attachment(1, "big.bin", bytes(2_000_000)) == os.path.join("1", "big.bin")
    with pytest.raises(ValueError):
        m.save_attachment(1, "huge.bin", bytes(2_000_001))


def test_attachment_traversal_rejected(base, tmp_path):
    (tmp_path / "secret.txt").write_bytes(b"secret")
    with pytest.raises(ValueError):
        m.save_attachment(1, "../../evil.txt", b"x")
    with pytest.raises(ValueError):
        m.read_attachment("../secret.txt")
    assert not (tmp_path / "evil.txt").exists()


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a/b.txt") == os.path.join(root, "a", "b.txt")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "x"), "../xy/z.txt")


def test_tokens_roundtrip(db):
    token = m.issue_token(db, ANN)
    admin_token = m.issue_token(db, ADMIN)
    assert len(token) == 32 and token != admin_token
    assert m.authenticate(db, token) == m.Caller(10, False)
    assert m.authenticate(db, admin_token) == m.Caller(1, True)
    assert m.authenticate(db, "forged") is None
    assert token not in str(db.execute("SELECT * FROM api_tokens").fetchall())


def test_render_ticket_escapes_user_text():
    ticket = {"id": 3, "title": "<img src=x onerror=alert(1)>", "priority": 3, "status": "open"}
    out = m.render_ticket(ticket, ["a & b", "<i>hi</i>"])
    assert out == ("<h1>#3 &lt;img src=x onerror=alert(1)&gt;</h1><p>high open</p>"
                   "<ul><li>a &amp; b</li><li>&lt;i&gt;hi&lt;/i&gt;</li></ul>")
    plain = {"id": 4, "title": "t", "priority": 1, "status": "closed"}
    assert m.render_ticket(plain, []) == "<h1>#4 t</h1><p>low closed</p><ul></ul>"


def test_my_ticket_only_for_its_author(db):
    m.open_ticket(db, ANN, "VPN down", "since 9am", 3)
    m.open_ticket(db, BOB, "Printer", "jammed")
    m.add_reply(db, ANN, 1, "still down")
    assert m.my_ticket(db, ANN, 1) == {"id": 1, "author_id": 10, "title": "VPN down", "priority": 3,
                                       "status": "open", "messages": ["since 9am", "still down"]}
    assert m.my_ticket(db, BOB, 1) is None
    assert m.my_ticket(db, BOB, 2)["messages"] == ["jammed"]
    assert m.my_ticket(db, ANN, 3) is None


def test_agent_queue_staff_only_and_skips_others_assignments(db):
    for title, priority in [("a", 2), ("b", 4), ("c", 3)]:
        m.open_ticket(db, ANN, title, "", priority)
    with pytest.raises(PermissionError):
        m.agent_queue(db, ANN)
    with pytest.raises(PermissionError):
        m.agent_queue(db, ADMIN)
    assert [row[0] for row in m.agent_queue(db, AGENT)] == [2, 3, 1]
    m.assign_ticket(db, AGENT, 2, AGENT.user_id)
    m.assign_ticket(db, AGENT, 3, OTHER_AGENT.user_id)
    assert [row[0] for row in m.agent_queue(db, AGENT)] == [2, 1]
    assert [row[0] for row in m.agent_queue(db, OTHER_AGENT)] == [3, 1]
    m.set_status(db, ADMIN, 1, "pending")
    assert [row[0] for row in m.agent_queue(db, AGENT, "pending")] == [1]


def test_assign_ticket(db):
    m.open_ticket(db, ANN, "a", "")
    with pytest.raises(PermissionError):
        m.assign_ticket(db, ANN, 1, ANN.user_id)
    assert db.execute("SELECT COUNT(*) FROM assignments").fetchone() == (0,)
    with pytest.raises(LookupError):
        m.assign_ticket(db, AGENT, 9, AGENT.user_id)
    m.assign_ticket(db, AGENT, 1, AGENT.user_id)
    m.assign_ticket(db, AGENT, 1, OTHER_AGENT.user_id)
    assert db.execute("SELECT * FROM assignments").fetchall() == [(1, 3)]


def test_edit_ticket_own_and_allowed_fields_only(db):
    m.open_ticket(db, ANN, "printer", "")
    m.set_status(db, ANN, 1, "closed")
    edited = m.edit_ticket(db, ANN, 1, {"title": "Printer on fire", "priority": 4, "status": "open", "author_id": 11})
    assert edited == {"id": 1, "author_id": 10, "title": "Printer on fire", "priority": 4, "status": "closed"}
    assert m.get_ticket(db, 1) == edited
    assert m.edit_ticket(db, ANN, 1, {})["title"] == "Printer on fire"
    with pytest.raises(PermissionError):
        m.edit_ticket(db, BOB, 1, {"title": "mine now"})
    for changes in ({"title": "  "}, {"priority": 5}, {"priority": 0}):
        with pytest.raises(ValueError):
            m.edit_ticket(db, ANN, 1, changes)
    with pytest.raises(LookupError):
        m.edit_ticket(db, ANN, 2, {"title": "x"})
    assert m.get_ticket(db, 1)["title"] == "Printer on fire"


def test_add_reply(db):
    m.open_ticket(db, ANN, "a", "first")
    m.set_status(db, ADMIN, 1, "pending")
    m.add_reply(db, ANN, 1, "here are the logs")
    assert m.get_ticket(db, 1)["status"] == "open"
    m.add_reply(db, ANN, 1, "and more")
    assert m.get_ticket(db, 1)["status"] == "open"
    with pytest.raises(PermissionError):
        m.add_reply(db, BOB, 1, "spam")
    m.set_status(db, ANN, 1, "closed")
    with pytest.raises(LookupError):
        m.add_reply(db, ANN, 1, "too late")
    with pytest.raises(LookupError):
        m.add_reply(db, ANN, 5, "nowhere")
    assert db.execute("SELECT * FROM messages").fetchall() == [
        (1, 10, "first"), (1, 10, "here are the logs"), (1, 10, "and more")]


def test_attachment_links(db, base):
    m.open_ticket(db, ANN, "a", "")
    m.save_attachment(1, "log.txt", b"trace")
    link = m.attachment_link(db, ANN, 1, "log.txt", 1000.0)
    payload, mac = link.removeprefix("/attachments/").split(".")
    assert json.loads(base64.urlsafe_b64decode(payload)) == {"name": os.path.join("1", "log.txt"), "iat": 1000}
    assert mac == hmac.new(b"test-link-secret", payload.encode(), hashlib.sha256).hexdigest()
    assert m.open_attachment_link(link, 1000.0) == b"trace"
    assert m.open_attachment_link("https://tickets.example" + link, 1000.0 + m.LINK_MAX_AGE) == b"trace"
    with pytest.raises(PermissionError):
        m.open_attachment_link(link, 1001.0 + m.LINK_MAX_AGE)
    with pytest.raises(PermissionError):
        m.attachment_link(db, BOB, 1, "log.txt", 1000.0)
    with pytest.raises(LookupError):
        m.attachment_link(db, ANN, 2, "log.txt", 1000.0)


def test_attachment_link_forgery_refused_and_logged_escaped(db, base, caplog):
    m.open_ticket(db, ANN, "a", "")
    m.save_attachment(1, "log.txt", b"trace")
    link = m.attachment_link(db, ANN, 1, "log.txt", 1000.0)
    payload, mac = link.removeprefix("/attachments/").split(".")
    other = base64.urlsafe_b64encode(json.dumps({"name": "1/log.txt", "iat": 5000}).encode()).decode()
    for forged in (f"/attachments/{other}.{mac}", f"/attachments/{payload}.{'0' * 64}", f"/attachments/{payload}"):
        with pytest.raises(PermissionError):
            m.open_attachment_link(forged, 1000.0)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tickets"):
        with pytest.raises(PermissionError):
            m.open_attachment_link("/attachments/x.y\nINFO forged", 1000.0)
    assert caplog.messages == ["attachment link with a bad signature: '/attachments/x.y\\nINFO forged'"]


@pytest.fixture
def posted(monkeypatch):
    import requests

    calls, codes = [], []

    def fake_post(url, **kwargs):
        calls.append((url, kwargs))
        code = codes.pop(0) if codes else 200
        return SimpleNamespace(status_code=code, ok=code < 400)

    monkeypatch.setattr(requests, "post", fake_post)
    monkeypatch.setattr(m.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(m, "WEBHOOK_SECRET", "hook-secret")
    return calls, codes


def test_notify_webhook_signs_and_retries_server_errors(posted):
    calls, codes = posted
    assert m.notify_webhook("https://hooks.chat.example/t/1", {"b": 1, "a": 2}) is True
    body = b'{"a": 2, "b": 1}'
    signature = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert calls == [("https://hooks.chat.example/t/1", {
        "data": body, "headers": {"Content-Type": "application/json", "X-Signature": signature}, "timeout": 10})]
    codes.extend([503, 502, 200])
    assert m.notify_webhook("https://events.pager.example/e", {}) is True
    assert len(calls) == 4
    codes.extend([500, 500, 500])
    assert m.notify_webhook("https://events.pager.example/e", {}) is False
    assert len(calls) == 7
    codes.append(404)
    assert m.notify_webhook("https://events.pager.example/e", {}, attempts=1) is False
    assert len(calls) == 8 and codes == []


def test_notify_webhook_refuses_other_hosts(posted):
    calls, _ = posted
    for url in ("http://169.254.169.254/latest/meta-data/", "https://localhost/admin", "https://evil.example/"):
        with pytest.raises(ValueError):
            m.notify_webhook(url, {})
    assert calls == []
