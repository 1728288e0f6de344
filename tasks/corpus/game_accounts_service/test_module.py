import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from datetime import date, timedelta

os.environ.setdefault("GAME_TOKEN_SECRET", "test-token-secret")
os.environ.setdefault("GAME_MATCH_SECRET", "test-match-secret")

import pytest

import module as m

PLAYER = m.Actor(2)
OTHER = m.Actor(3)
MODERATOR = m.Actor(8, is_staff=True)
GAME_MASTER = m.Actor(9, is_admin=True)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def conn():
    db = sqlite3.connect(":memory:")
    db.executescript(
        "PRAGMA foreign_keys = ON;"
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, avatar_url TEXT, banned_until REAL);"
        "CREATE TABLE characters (id INTEGER PRIMARY KEY, account_id INT, name TEXT, appearance TEXT, bio TEXT,"
        " level INT, rating INT);"
        "CREATE TABLE inventory (character_id INT REFERENCES characters (id) ON DELETE CASCADE, account_id INT,"
        " item TEXT, quantity INT, UNIQUE (character_id, item));"
        "CREATE TABLE matches (id TEXT PRIMARY KEY, winner_id INT, loser_id INT, recorded_at REAL);"
        "CREATE TABLE reports (id INTEGER PRIMARY KEY, reporter_id INT, offender_id INT, message TEXT, reason TEXT,"
        " created_at REAL);"
    )
    db.executemany("INSERT INTO accounts (id) VALUES (?)", [(2,), (3,), (8,), (9,)])
    db.executemany("INSERT INTO characters VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(1, 2, "Aria", "elf", "", 12, 1600), (2, 2, "Bran", "dwarf", "", 3, 1400),
                    (5, 3, "Cole", "human", "", 7, 1500)])
    db.executemany("INSERT INTO inventory VALUES (?, ?, ?, ?)",
                   [(1, 2, "potion", 3), (1, 2, "bow", 1), (2, 2, "axe", 1), (5, 3, "sword", 1)])
    yield db
    db.close()


@pytest.fixture
def fetched():
    return []


@pytest.fixture
def accounts(conn, fetched):
    def fetch(url, limit):
        fetched.append((url, limit))
        return PNG

    return m.GameAccounts(conn, fetch)


def rating(db, character_id):
    return db.execute("SELECT rating FROM characters WHERE id = ?", (character_id,)).fetchone()[0]


def test_elo_update():
    assert m.elo_update(1500, 1500) == (1516, 1484)
    assert m.elo_update(1600, 1400) == (1608, 1392)
    assert m.elo_update(1400, 1600) == (1424, 1576)
    assert m.elo_update(1600, 1400, draw=True) == (1592, 1408)
    assert m.elo_update(1500, 1500, draw=True) == (1500, 1500)
    assert m.elo_update(1500, 1500, k=16) == (1508, 1492)
    assert m.elo_update(2400, 1000) == (2400, 1000)


def test_matchmaking_bracket_floors_are_inclusive():
    assert [m.matchmaking_bracket(r) for r in (2500, 2000, 1999, 1600, 1599, 1200, 1199, 0)] == [
        "diamond", "diamond", "gold", "gold", "silver", "silver", "bronze", "bronze"]


def test_leaderboard_shares_ranks_on_ties():
    characters = [{"name": "dee", "rating": 1650}, {"name": "cal", "rating": 1700}, {"name": "ash", "rating": 1800},
                  {"name": "bea", "rating": 1700}, {"name": "eve", "rating": 1650}, {"name": "fay", "rating": 1200}]
    assert m.leaderboard(characters) == [(1, "ash", 1800), (2, "bea", 1700), (2, "cal", 1700), (4, "dee", 1650),
                                         (4, "eve", 1650), (6, "fay", 1200)]
    assert m.leaderboard(characters, limit=3) == [(1, "ash", 1800), (2, "bea", 1700), (2, "cal", 1700)]
    assert m.leaderboard(characters, limit=1) == [(1, "ash", 1800)]
    assert m.leaderboard([]) == []
    assert m.leaderboard([{"name": "x", "rating": 0}, {"name": "y", "rating": 0}]) == [(1, "x", 0), (1, "y", 0)]


def test_daily_reward_streaks():
    streak = {}
    day = date(2024, 3, 1)
    assert m.claim_daily_reward(streak, day) == 50
    assert streak == {"days": 1, "last_claim": day}
    with pytest.raises(ValueError):
        m.claim_daily_reward(streak, day)
    rewards = [m.claim_daily_reward(streak, day + timedelta(days=n)) for n in range(1, 9)]
    assert rewards == [75, 100, 150, 200, 300, 500, 500, 500]
    assert streak["days"] == 9
    assert m.claim_daily_reward(streak, day + timedelta(days=10)) == 50
    assert streak == {"days": 1, "last_claim": day + timedelta(days=10)}


def test_sign_is_hmac_sha256():
    key = os.environ["GAME_TOKEN_SECRET"].encode()
    assert m.sign("abc") == hmac.new(key, b"abc", hashlib.sha256).hexdigest()
    assert m.sign("abc", m.MATCH_SECRET) == hmac.new(b"test-match-secret", b"abc", hashlib.sha256).hexdigest()


def test_tokens_round_trip():
    token = m.issue_token(2, "session", now=1000.0)
    body, _, mac = token.partition(".")
    assert json.loads(base64.urlsafe_b64decode(body)) == {"sub": 2, "use": "session", "iat": 1000.0,
                                                          "exp": 1000.0 + m.SESSION_TTL}
    assert mac == m.sign(body)
    assert m.read_token(token, "session")["sub"] == 2
    assert m.read_token(m.issue_token(2, "session", now=0.0, ttl=60), "session")["exp"] == 60
    with pytest.raises(ValueError):
        m.read_token(token, "reset")
    with pytest.raises(ValueError):
        m.read_token(token[:-1] + ("0" if token[-1] != "0" else "1"), "session")


def test_session_expiry():
    token = m.issue_token(2, "session", now=1000.0)
    assert m.session_account(token, now=1000.0) == 2
    assert m.session_account(token, now=1000.0 + m.SESSION_TTL - 1) == 2
    assert m.session_account(token, now=1000.0 + m.SESSION_TTL) is None


def test_characters_are_read_by_their_owner(accounts):
    assert accounts.load_character(5)["name"] == "Cole"
    assert accounts.load_character(99) is None
    assert accounts.get_character(PLAYER, 1) == {"id": 1, "account_id": 2, "name": "Aria", "appearance": "elf",
                                                 "bio": "", "level": 12, "rating": 1600}
    assert accounts.get_character(PLAYER, 5) is None
    assert accounts.list_inventory(PLAYER, 1) == {"bow": 1, "potion": 3}
    assert list(accounts.list_inventory(PLAYER, 1)) == ["bow", "potion"]
    assert accounts.list_inventory(PLAYER, 5) == {}


def test_update_character(accounts, conn):
    character = accounts.update_character(PLAYER, 1, {"name": "Aria II", "bio": "archer", "level": 60})
    assert character["name"] == "Aria II" and character["level"] == 12
    row = conn.execute("SELECT name, appearance, bio, level, rating FROM characters WHERE id = 1").fetchone()
    assert row == ("Aria II", "elf", "archer", 12, 1600)
    with pytest.raises(LookupError):
        accounts.update_character(PLAYER, 99, {"name": "x"})
    with pytest.raises(PermissionError):
        accounts.update_character(OTHER, 1, {"name": "x"})
    assert accounts.load_character(1)["name"] == "Aria II"


def test_delete_character(accounts, conn):
    assert accounts.delete_character(OTHER, 1) is False
    assert accounts.load_character(1) is not None
    assert accounts.delete_character(PLAYER, 1) is True
    assert accounts.load_character(1) is None
    assert conn.execute("SELECT item FROM inventory WHERE character_id = 1").fetchall() == []
    assert accounts.list_inventory(PLAYER, 2) == {"axe": 1}


def test_grant_item(accounts):
    accounts.grant_item(GAME_MASTER, 1, "potion", 2)
    accounts.grant_item(GAME_MASTER, 1, "shield", 1)
    assert accounts.list_inventory(PLAYER, 1) == {"bow": 1, "potion": 5, "shield": 1}
    with pytest.raises(PermissionError):
        accounts.grant_item(MODERATOR, 1, "potion", 1)
    with pytest.raises(ValueError):
        accounts.grant_item(GAME_MASTER, 1, "potion", 0)
    with pytest.raises(LookupError):
        accounts.grant_item(GAME_MASTER, 99, "potion", 1)
    assert accounts.list_inventory(PLAYER, 1)["potion"] == 5


def report(match_id, winner, loser, issued_at, draw=False):
    payload = json.dumps({"match_id": match_id, "winner": winner, "loser": loser, "draw": draw, "issued_at": issued_at})
    return payload, m.sign(payload, m.MATCH_SECRET)


def test_record_match(accounts, conn):
    payload, signature = report("m1", 2, 1, issued_at=5000.0)
    assert accounts.record_match(payload, signature, now=5000.0 + m.REPORT_MAX_AGE) == (1424, 1576)
    assert (rating(conn, 2), rating(conn, 1)) == (1424, 1576)
    assert conn.execute("SELECT winner_id, loser_id, recorded_at FROM matches WHERE id = 'm1'").fetchone() == (2, 1, 5600.0)
    with pytest.raises(sqlite3.IntegrityError):
        accounts.record_match(payload, signature, now=5001.0)
    payload, signature = report("m2", 5, 1, issued_at=6000.0, draw=True)
    assert accounts.record_match(payload, signature, now=6000.0) == (1503, 1573)
    assert (rating(conn, 5), rating(conn, 1)) == (1503, 1573)


def test_record_match_refusals(accounts, conn):
    payload, signature = report("m3", 2, 1, issued_at=5000.0)
    with pytest.raises(ValueError):
        accounts.record_match(payload, m.sign(payload), now=5000.0)
    with pytest.raises(ValueError):
        accounts.record_match(payload, signature, now=5000.0 + m.REPORT_MAX_AGE + 1)
    assert (rating(conn, 2), rating(conn, 1)) == (1400, 1600)


def test_set_avatar(accounts, conn, fetched):
    url = "https://cdn.game.example/u/2.png"
    accounts.set_avatar(PLAYER, url)
    assert fetched == [(url, m.AVATAR_MAX_BYTES + 1)]
    assert conn.execute("SELECT avatar_url FROM accounts WHERE id = 2").fetchone() == (url,)
    for bad in ("http://cdn.game.example/u/2.png", "https://evil.example/a.png", "https://cdn.game.example.evil.example/a.png"):
        with pytest.raises(ValueError):
            accounts.set_avatar(PLAYER, bad)
    assert len(fetched) == 1


def test_set_avatar_checks_the_image(conn):
    for image, ok in ((b"\xff\xd8\xff" + b"\0" * 10, True), (b"GIF89a", False),
                      (PNG[:8] + b"\0" * (m.AVATAR_MAX_BYTES - 8), True), (PNG[:8] + b"\0" * (m.AVATAR_MAX_BYTES - 7), False)):
        service = m.GameAccounts(conn, lambda url, limit, image=image: image[:limit])
        if ok:
            service.set_avatar(OTHER, "https://avatars.game.example/3.jpg")
            assert conn.execute("SELECT avatar_url FROM accounts WHERE id = 3").fetchone() == ("https://avatars.game.example/3.jpg",)
        else:
            with pytest.raises(ValueError):
                service.set_avatar(OTHER, "https://avatars.game.example/3.jpg")


def test_ban_account(accounts, conn, caplog):
    with pytest.raises(PermissionError):
        accounts.ban_account(GAME_MASTER, 3, 7, "spam", now=0.0)
    with caplog.at_level(logging.INFO, logger="game.moderation"):
        assert accounts.ban_account(MODERATOR, 3, 7, "spam", now=1000.0) == 1000.0 + 7 * 86400
    assert conn.execute("SELECT banned_until FROM accounts WHERE id = 3").fetchone() == (1000.0 + 7 * 86400,)
    assert conn.execute("SELECT banned_until FROM accounts WHERE id = 2").fetchone() == (None,)
    assert caplog.messages == ["account 3 banned for 7 days by 8: 'spam'"]
    with pytest.raises(PermissionError):
        accounts.lift_ban(PLAYER, 3)
    accounts.lift_ban(MODERATOR, 3)
    assert conn.execute("SELECT banned_until FROM accounts WHERE id = 3").fetchone() == (None,)


def test_report_player(accounts, conn, caplog):
    with caplog.at_level(logging.INFO, logger="game.moderation"):
        first = accounts.report_player(PLAYER, 3, "you are bad", "abuse", now=10.0)
        second = accounts.report_player(OTHER, 2, "gg", "cheating", now=11.0)
    assert second == first + 1
    assert conn.execute("SELECT reporter_id, offender_id, message, reason, created_at FROM reports WHERE id = ?",
                        (first,)).fetchone() == (2, 3, "you are bad", "abuse", 10.0)
    assert caplog.messages == ["chat report by 2 against 3: 'abuse'", "chat report by 3 against 2: 'cheating'"]
