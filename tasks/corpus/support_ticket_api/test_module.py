import os
import sqlite3

import pytest

import module as m

ANN = m.Caller(10)
BOB = m.Caller(11)
ADMIN = m.Caller(1, is_admin=True)


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, author INT, title TEXT,"
                 " priority INT, status TEXT)")
    conn.execute("CREATE TABLE messages (ticket_id INT, author INT, body TEXT)")
    conn.execute("CREATE TABLE api_tokens (digest TEXT, user_id INT, is_admin INT)")
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
    assert m.get_ticket(db, 1) == {"id": 1, "author": 10, "title": "VPN down", "priority": 3,
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
