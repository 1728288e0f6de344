import hashlib
import hmac
import os
import random
import sqlite3

import pytest

os.environ.setdefault("ACCOUNTS_SESSION_SECRET", "test-session-secret")

import module as m  # noqa: E402

NOW = 1_700_000_000.0
GOOD = "Correct9horse"
ADMIN = m.User(1, "root@example.com", True)
CLERK = m.User(2, "clerk@example.com", False)


class FastHashlib:
    """hashlib stand-in: same API, but PBKDF2 runs one round so the tests stay fast."""

    calls: list = []

    def __getattr__(self, name):
        return getattr(hashlib, name)

    def pbkdf2_hmac(self, name, password, salt, iterations):
        self.calls.append((name, iterations))
        return hashlib.pbkdf2_hmac(name, password, salt, 1)


@pytest.fixture(autouse=True)
def fast_hash(monkeypatch):
    fake = FastHashlib()
    fake.calls = []
    monkeypatch.setattr(m, "hashlib", fake)
    return fake


@pytest.fixture
def db():
    conn = m.open_store()
    yield conn
    conn.close()


def failed_count(db, email):
    return db.execute("SELECT failed FROM users WHERE email = ?", (email,)).fetchone()[0]


def test_password_problems_accepts_good_password():
    assert m.password_problems(GOOD) == []
    assert m.password_problems("Abcdefghi1") == []


def test_password_problems_length_boundary():
    assert m.password_problems("Abcdefgh1") == ["too short"]
    assert m.password_problems("Abcdefghi1") == []


def test_password_problems_each_rule():
    assert m.password_problems("Abcdefghijk") == ["needs a digit"]
    assert m.password_problems("abcdefghij1") == ["needs upper and lower case"]
    assert m.password_problems("ABCDEFGHIJ1") == ["needs upper and lower case"]
    assert m.password_problems("abc") == ["too short", "needs a digit", "needs upper and lower case"]


def test_hash_password_uses_pbkdf2_sha256(fast_hash):
    salt = b"s" * 16
    assert m.hash_password("pw", salt) == hashlib.pbkdf2_hmac("sha256", b"pw", salt, 1)
    assert fast_hash.calls == [("sha256", 200_000)]
    assert m.hash_password("pw", b"t" * 16) != m.hash_password("pw", salt)


def test_sign_is_hmac_sha256_with_secret():
    expected = hmac.new(m.SESSION_SECRET.encode(), b"abc", hashlib.sha256).hexdigest()
    assert m.sign("abc") == expected
    assert m.sign("abd") != expected


def test_sign_up_returns_ids_and_normalises_email(db):
    assert m.sign_up(db, "  Ann@Example.COM ", GOOD) == 1
    assert m.sign_up(db, "bob@example.com", GOOD) == 2
    row = db.execute("SELECT email, failed, active FROM users WHERE id = 1").fetchone()
    assert tuple(row) == ("ann@example.com", 0, 1)


def test_sign_up_stores_salted_hash_not_password(db):
    m.sign_up(db, "ann@example.com", GOOD)
    m.sign_up(db, "bob@example.com", GOOD)
    rows = db.execute("SELECT hash, salt FROM users ORDER BY id").fetchall()
    assert rows[0]["hash"] == hashlib.pbkdf2_hmac("sha256", GOOD.encode(), rows[0]["salt"], 1)
    assert rows[0]["salt"] != rows[1]["salt"]
    assert len(rows[0]["salt"]) == 16


def test_sign_up_rejects_weak_password(db):
    with pytest.raises(ValueError, match="too short, needs a digit"):
        m.sign_up(db, "ann@example.com", "short")
    assert db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0


def test_sign_up_duplicate_email(db):
    m.sign_up(db, "ann@example.com", GOOD)
    with pytest.raises(sqlite3.IntegrityError):
        m.sign_up(db, "ANN@example.com", GOOD)


def test_create_session_cookie_and_lookup(db):
    cookie = m.create_session(db, 7, NOW)
    sid, signature = cookie.split(".")
    assert len(sid) == 32
    assert signature == m.sign(sid)
    row = db.execute("SELECT uid, expires FROM sessions WHERE sid = ?", (sid,)).fetchone()
    assert tuple(row) == (7, NOW + 8 * 3600)
    assert m.session_user(db, cookie, NOW) == 7
    assert m.create_session(db, 7, NOW) != cookie


def test_session_expiry_boundary(db):
    cookie = m.create_session(db, 3, NOW)
    assert m.session_user(db, cookie, NOW + 8 * 3600 - 1) == 3
    assert m.session_user(db, cookie, NOW + 8 * 3600) is None


def test_session_user_rejects_bad_signature_and_unknown_sid(db):
    cookie = m.create_session(db, 3, NOW)
    sid = cookie.split(".")[0]
    assert m.session_user(db, sid + "." + "0" * 64, NOW) is None
    assert m.session_user(db, sid, NOW) is None
    other = "f" * 32
    assert m.session_user(db, other + "." + m.sign(other), NOW) is None


def test_login_success_returns_session_for_user(db):
    uid = m.sign_up(db, "ann@example.com", GOOD)
    m.sign_up(db, "bob@example.com", GOOD)
    cookie = m.login(db, " ANN@example.com", GOOD, NOW)
    assert cookie is not None
    assert m.session_user(db, cookie, NOW) == uid


def test_login_failures_counted_and_unknown_email(db):
    m.sign_up(db, "ann@example.com", GOOD)
    assert m.login(db, "ann@example.com", "Wrong9password", NOW) is None
    assert m.login(db, "ann@example.com", "Wrong9password", NOW) is None
    assert failed_count(db, "ann@example.com") == 2
    assert m.login(db, "nobody@example.com", GOOD, NOW) is None


def test_login_success_resets_failures(db):
    m.sign_up(db, "ann@example.com", GOOD)
    for _ in range(4):
        m.login(db, "ann@example.com", "Wrong9password", NOW)
    assert failed_count(db, "ann@example.com") == 4
    assert m.login(db, "ann@example.com", GOOD, NOW) is not None
    assert failed_count(db, "ann@example.com") == 0


def test_login_locks_after_max_failures(db):
    m.sign_up(db, "ann@example.com", GOOD)
    for _ in range(5):
        assert m.login(db, "ann@example.com", "Wrong9password", NOW) is None
    assert failed_count(db, "ann@example.com") == 5
    assert m.login(db, "ann@example.com", GOOD, NOW) is None
    assert failed_count(db, "ann@example.com") == 5


def test_request_reset_stores_only_digest(db):
    uid = m.sign_up(db, "ann@example.com", GOOD)
    token = m.request_reset(db, "Ann@Example.com", NOW)
    assert isinstance(token, str) and len(token) >= 32
    row = db.execute("SELECT digest, uid, expires FROM resets").fetchone()
    assert row["digest"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["uid"] == uid
    assert row["expires"] == NOW + 3600
    assert m.request_reset(db, "nobody@example.com", NOW) is None


def test_reset_password_changes_password_and_ends_sessions(db):
    m.sign_up(db, "bob@example.com", GOOD)
    uid = m.sign_up(db, "ann@example.com", GOOD)
    bob_cookie = m.login(db, "bob@example.com", GOOD, NOW)
    cookie = m.login(db, "ann@example.com", GOOD, NOW)
    token = m.request_reset(db, "ann@example.com", NOW)
    assert m.reset_password(db, token, "Brand9NewPass", NOW + 10) is True
    assert m.session_user(db, cookie, NOW + 20) is None
    assert m.session_user(db, bob_cookie, NOW + 20) is not None
    assert m.login(db, "ann@example.com", GOOD, NOW + 30) is None
    new_cookie = m.login(db, "ann@example.com", "Brand9NewPass", NOW + 30)
    assert m.session_user(db, new_cookie, NOW + 40) == uid
    assert m.reset_password(db, token, "Other9Password", NOW + 50) is False


def test_reset_password_unlocks_account(db):
    m.sign_up(db, "ann@example.com", GOOD)
    for _ in range(5):
        m.login(db, "ann@example.com", "Wrong9password", NOW)
    token = m.request_reset(db, "ann@example.com", NOW)
    assert m.reset_password(db, token, "Brand9NewPass", NOW) is True
    assert failed_count(db, "ann@example.com") == 0
    assert m.login(db, "ann@example.com", "Brand9NewPass", NOW) is not None


def test_reset_token_expiry_boundary(db):
    m.sign_up(db, "ann@example.com", GOOD)
    token = m.request_reset(db, "ann@example.com", NOW)
    assert m.reset_password(db, token, "Brand9NewPass", NOW + 3601) is False
    assert m.reset_password(db, token, "Brand9NewPass", NOW + 3600) is True


def test_reset_password_rejects_weak_password_and_bad_token(db):
    m.sign_up(db, "ann@example.com", GOOD)
    token = m.request_reset(db, "ann@example.com", NOW)
    assert m.reset_password(db, token, "weak", NOW) is False
    assert m.reset_password(db, "not-a-token", "Brand9NewPass", NOW) is False
    assert m.reset_password(db, token, "Brand9NewPass", NOW) is True


def test_lockout_delay_backoff_and_cap():
    assert m.lockout_delay(0, random.Random(5)) == 1 + random.Random(5).uniform(0, 1)
    assert m.lockout_delay(3, random.Random(5)) == 8 + random.Random(5).uniform(0, 1)
    assert m.lockout_delay(8, random.Random(1)) == 256 + random.Random(1).uniform(0, 1)
    assert m.lockout_delay(9, random.Random(1)) == 300 + random.Random(1).uniform(0, 1)


def test_lockout_delay_default_rng_jitter_range():
    for _ in range(20):
        assert 4 <= m.lockout_delay(2) <= 5


def test_disable_account_requires_admin(db):
    uid = m.sign_up(db, "ann@example.com", GOOD)
    with pytest.raises(PermissionError):
        m.disable_account(db, CLERK, uid)
    assert m.login(db, "ann@example.com", GOOD, NOW) is not None


def test_disable_account_blocks_login_and_ends_sessions(db):
    uid = m.sign_up(db, "ann@example.com", GOOD)
    other = m.sign_up(db, "bob@example.com", GOOD)
    cookie = m.login(db, "ann@example.com", GOOD, NOW)
    bob_cookie = m.login(db, "bob@example.com", GOOD, NOW)
    m.disable_account(db, ADMIN, uid)
    assert m.session_user(db, cookie, NOW) is None
    assert m.login(db, "ann@example.com", GOOD, NOW) is None
    assert m.session_user(db, bob_cookie, NOW) == other


def test_locked_accounts_threshold_and_order(db):
    for email in ("zed@example.com", "amy@example.com", "kim@example.com"):
        m.sign_up(db, email, GOOD)
    for _ in range(5):
        m.login(db, "zed@example.com", "Wrong9password", NOW)
        m.login(db, "amy@example.com", "Wrong9password", NOW)
    for _ in range(4):
        m.login(db, "kim@example.com", "Wrong9password", NOW)
    assert m.locked_accounts(db, ADMIN) == ["amy@example.com", "zed@example.com"]
    with pytest.raises(PermissionError):
        m.locked_accounts(db, CLERK)
