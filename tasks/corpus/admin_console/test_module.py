import csv
import hashlib
import sqlite3
import tempfile

import pytest

import module as m

ADMIN = m.Actor(1, is_admin=True)
SUPPORT = m.Actor(2)


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, role TEXT)")
    db.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, actor_id INT, action TEXT)")
    db.execute("CREATE TABLE api_tokens (user_id INT, token_hash TEXT)")
    users = [(1, "root@corp.example", "admin"), (2, "ann@corp.example", "support"),
             (3, "bob@shop.example", "viewer"), (4, "o'hara@corp.example", "viewer")]
    db.executemany("INSERT INTO users VALUES (?, ?, ?)", users)
    yield db
    db.close()


def audit_rows(db):
    return db.execute("SELECT actor_id, action FROM audit_log ORDER BY id").fetchall()


def test_actor_defaults_to_non_admin():
    assert m.Actor(7).is_admin is False


def fast_pbkdf2(calls):
    def fake(name, password, salt, iterations):
        calls.append((name, iterations))
        return hashlib.sha256(salt + password).digest()
    return fake


def test_hash_password_format_and_known_salt():
    stored = m.hash_password("hunter2", bytes(range(16)))
    assert stored == ("000102030405060708090a0b0c0d0e0f$"
                      "96c90ee0084c763e28e2842ff4dcf54f11f10c25d0a05dc991ef347a151d7074")


def test_hash_password_random_salt_differs(monkeypatch):
    calls = []
    monkeypatch.setattr(m.hashlib, "pbkdf2_hmac", fast_pbkdf2(calls))
    first = m.hash_password("same")
    second = m.hash_password("same")
    assert first != second
    assert len(first.split("$")[0]) == 32
    assert calls == [("sha256", 200_000), ("sha256", 200_000)]


def test_verify_password(monkeypatch):
    monkeypatch.setattr(m.hashlib, "pbkdf2_hmac", fast_pbkdf2([]))
    stored = m.hash_password("correct horse", bytes(16))
    assert m.verify_password("correct horse", stored) is True
    assert m.verify_password("wrong horse", stored) is False
    assert m.verify_password("correct horse", m.hash_password("correct horse")) is True


def test_search_users_substring_and_limit(conn):
    assert m.search_users(conn, "corp") == [
        (1, "root@corp.example", "admin"), (2, "ann@corp.example", "support"),
        (4, "o'hara@corp.example", "viewer")]
    assert m.search_users(conn, "corp", limit=2) == [
        (1, "root@corp.example", "admin"), (2, "ann@corp.example", "support")]
    assert m.search_users(conn, "' OR '1'='1") == []
    assert m.search_users(conn, "o'hara") == [(4, "o'hara@corp.example", "viewer")]


def test_search_users_default_limit(conn):
    conn.executemany("INSERT INTO users (email, role) VALUES (?, ?)",
                     [(f"u{i}@bulk.example", "viewer") for i in range(30)])
    assert len(m.search_users(conn, "bulk")) == 20


def test_set_role_requires_admin(conn):
    with pytest.raises(PermissionError):
        m.set_role(conn, SUPPORT, 3, "support")
    assert conn.execute("SELECT role FROM users WHERE id = 3").fetchone() == ("viewer",)
    assert audit_rows(conn) == []


def test_set_role_rejects_unknown_role(conn):
    with pytest.raises(ValueError):
        m.set_role(conn, ADMIN, 3, "superuser")


def test_set_role_updates_and_audits(conn):
    m.set_role(conn, ADMIN, 3, "support")
    assert conn.execute("SELECT role FROM users WHERE id = 3").fetchone() == ("support",)
    assert conn.execute("SELECT role FROM users WHERE id = 2").fetchone() == ("support",)
    assert audit_rows(conn) == [(1, "set_role 3 support")]


def test_delete_user(conn):
    with pytest.raises(PermissionError):
        m.delete_user(conn, SUPPORT, 3)
    with pytest.raises(ValueError):
        m.delete_user(conn, ADMIN, 1)
    assert m.delete_user(conn, ADMIN, 3) is True
    assert m.delete_user(conn, ADMIN, 99) is False
    remaining = [row[0] for row in conn.execute("SELECT id FROM users ORDER BY id")]
    assert remaining == [1, 2, 4]
    assert audit_rows(conn) == [(1, "delete_user 3"), (1, "delete_user 99")]


def test_export_audit_csv(conn, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for action in ("a", "b", "c"):
        m.record_audit(conn, ADMIN, action)
    path = m.export_audit_csv(conn, after_id=1)
    assert path.startswith(str(tmp_path)) and path.endswith(".csv")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["id", "actor_id", "action"], ["2", "1", "b"], ["3", "1", "c"]]
    with open(m.export_audit_csv(conn), newline="") as handle:
        assert len(list(csv.reader(handle))) == 4


def test_sample_for_review_is_reproducible():
    rows = list(range(50))
    first = m.sample_for_review(rows, 5, seed=42)
    assert first == m.sample_for_review(rows, 5, seed=42)
    assert len(first) == 5 and len(set(first)) == 5
    assert sorted(m.sample_for_review([3, 1, 2], 10, seed=1)) == [1, 2, 3]


def test_issue_api_token_stores_digest_only(conn):
    token = m.issue_api_token(conn, SUPPORT)
    other = m.issue_api_token(conn, SUPPORT)
    assert len(token) == 32 and token != other
    int(token, 16)
    stored = conn.execute("SELECT user_id, token_hash FROM api_tokens").fetchall()
    assert stored[0] == (2, hashlib.sha256(token.encode()).hexdigest())
    assert token not in [row[1] for row in stored]


def test_backup_database_argv(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(m, "BACKUP_DIR", str(tmp_path))
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kw: calls.append((argv, kw)))
    result = m.backup_database("/srv/console.db", "20240101")
    target = str(tmp_path / "console-20240101.db")
    assert result == target + ".gz"
    assert calls == [(["sqlite3", "/srv/console.db", f".backup {target}"], {"check": True}),
                     (["gzip", "-f", target], {"check": True})]


def test_users_table_html_escapes_cells():
    out = m.users_table_html([(3, "<b>x</b>@a.example", "viewer"), (4, "q@a.example", "a&b")])
    assert out == ("<table><tr><td>3</td><td>&lt;b&gt;x&lt;/b&gt;@a.example</td><td>viewer</td></tr>"
                   "<tr><td>4</td><td>q@a.example</td><td>a&amp;b</td></tr></table>")
    assert m.users_table_html([]) == "<table></table>"


def test_is_local_url():
    assert m.is_local_url("/admin/users?page=2") is True
    assert m.is_local_url("/") is True
    assert m.is_local_url("https://evil.example/") is False
    assert m.is_local_url("//evil.example") is False
    assert m.is_local_url("/\\evil.example") is False
    assert m.is_local_url("admin") is False
    assert m.is_local_url("") is False


def test_after_login_redirect():
    assert m.after_login_redirect(None) == "/admin"
    assert m.after_login_redirect("") == "/admin"
    assert m.after_login_redirect("/admin/audit") == "/admin/audit"
    assert m.after_login_redirect("https://evil.example") == "/"
    assert m.after_login_redirect("//evil.example/x") == "/"
