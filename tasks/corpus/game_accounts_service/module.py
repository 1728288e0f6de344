"""Player accounts of an online game: characters, inventories, moderation, signed match results,
sessions, avatars, ladder. Players see and change only their own characters and inventories."""

import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Callable
from urllib.parse import urlsplit

moderation_log = logging.getLogger("game.moderation")

TOKEN_SECRET = os.environ["GAME_TOKEN_SECRET"]
MATCH_SECRET = os.environ["GAME_MATCH_SECRET"]
SESSION_TTL = 2 * 3600
REPORT_MAX_AGE = 10 * 60
K_FACTOR = 32
BRACKETS = (("diamond", 2000), ("gold", 1600), ("silver", 1200))
DAILY_REWARDS = (50, 75, 100, 150, 200, 300, 500)
PROFILE_FIELDS = {"name", "appearance", "bio"}
AVATAR_HOSTS = frozenset({"cdn.game.example", "avatars.game.example"})
AVATAR_MAX_BYTES = 256_000
CHARACTER_COLUMNS = ("id", "account_id", "name", "appearance", "bio", "level", "rating")


@dataclass
class Actor:
    id: int
    is_staff: bool = False
    is_admin: bool = False
    is_active: bool = True


def elo_update(winner: int, loser: int, draw: bool = False, k: int = K_FACTOR) -> tuple[int, int]:
    expected = 1 / (1 + 10 ** ((loser - winner) / 400))
    delta = round(k * ((0.5 if draw else 1.0) - expected))
    return winner + delta, loser - delta


def matchmaking_bracket(rating: int) -> str:
    for name, floor in BRACKETS:
        if rating >= floor:
            return name
    return "bronze"


def leaderboard(characters: list[dict], limit: int = 10) -> list[tuple[int, str, int]]:
    """(rank, name, rating), best first; equal ratings share a rank and the next ranks are skipped."""
    ranked = sorted(characters, key=lambda c: (-c["rating"], c["name"]))
    board, rank, previous = [], 0, None
    for position, character in enumerate(ranked[:limit], start=1):
        if character["rating"] != previous:
            rank, previous = position, character["rating"]
        board.append((rank, character["name"], character["rating"]))
    return board


def claim_daily_reward(streak: dict, today: date) -> int:
    """Coins for today's login; each consecutive day pays more, a missed day starts over."""
    last = streak.get("last_claim")
    if last == today: raise ValueError("reward already claimed today")
    consecutive = last is not None and (today - last).days == 1
    streak["days"] = streak["days"] + 1 if consecutive else 1
    streak["last_claim"] = today
    return DAILY_REWARDS[min(streak["days"], len(DAILY_REWARDS)) - 1]


def sign(body: str, secret: str = TOKEN_SECRET) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def issue_token(subject: int, purpose: str, now: float, ttl: int = SESSION_TTL) -> str:
    claims = {"sub": subject, "use": purpose, "iat": now, "exp": now + ttl}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    return f"{body}.{sign(body)}"


def read_token(token: str, purpose: str) -> dict:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(body), mac): raise ValueError("bad token signature")
    claims = json.loads(base64.urlsafe_b64decode(body))
    if claims["use"] != purpose: raise ValueError(f"not a {purpose} token")
    return claims


def session_account(token: str, now: float) -> int | None:
    claims = read_token(token, "session")
    if claims["exp"] <= now: return None
    return claims["sub"]


class GameAccounts:
    """Account operations over the game database; ``fetch_image(url, limit)`` follows no redirect."""

    def __init__(self, conn: sqlite3.Connection, fetch_image: Callable[[str, int], bytes]):
        self.conn, self.fetch_image = conn, fetch_image

    def load_character(self, character_id: int) -> dict | None:
        """Any character by id, for match servers and game masters (callers check access)."""
        row = self.conn.execute("SELECT id, account_id, name, appearance, bio, level, rating FROM characters WHERE id = ?", (character_id,)).fetchone()
        return None if row is None else dict(zip(CHARACTER_COLUMNS, row))

    def get_character(self, actor: Actor, character_id: int) -> dict | None:
        row = self.conn.execute("SELECT id, account_id, name, appearance, bio, level, rating FROM characters WHERE id = ? AND account_id = ?", (character_id, actor.id)).fetchone()
        return None if row is None else dict(zip(CHARACTER_COLUMNS, row))

    def list_inventory(self, actor: Actor, character_id: int) -> dict[str, int]:
        return dict(self.conn.execute("SELECT item, quantity FROM inventory WHERE character_id = ? AND account_id = ? ORDER BY item", (character_id, actor.id)).fetchall())

    def update_character(self, actor: Actor, character_id: int, changes: dict) -> dict:
        character = self.load_character(character_id)
        if character is None: raise LookupError(f"no character {character_id}")
        if character["account_id"] != actor.id: raise PermissionError("not your character")
        for key in PROFILE_FIELDS & changes.keys():
            character[key] = changes[key]
        self.conn.execute("UPDATE characters SET name = ?, appearance = ?, bio = ?, level = ?, rating = ? WHERE id = ?",
                          (character["name"], character["appearance"], character["bio"], character["level"], character["rating"], character_id))
        return character

    def delete_character(self, actor: Actor, character_id: int) -> bool:
        return self.conn.execute("DELETE FROM characters WHERE id = ? AND account_id = ?", (character_id, actor.id)).rowcount > 0

    def grant_item(self, actor: Actor, character_id: int, item: str, quantity: int) -> None:
        if not actor.is_admin: raise PermissionError("game masters only")
        if quantity <= 0: raise ValueError("quantity must be positive")
        character = self.load_character(character_id)
        if character is None: raise LookupError(f"no character {character_id}")
        self.conn.execute("INSERT INTO inventory (character_id, account_id, item, quantity) VALUES (?, ?, ?, ?)"
                          " ON CONFLICT (character_id, item) DO UPDATE SET quantity = quantity + excluded.quantity",
                          (character_id, character["account_id"], item, quantity))

    def record_match(self, payload: str, signature: str, now: float) -> tuple[int, int]:
        """Apply a match server's report {"match_id", "winner", "loser", "draw", "issued_at"} once."""
        if not hmac.compare_digest(sign(payload, MATCH_SECRET), signature): raise ValueError("bad report signature")
        report = json.loads(payload)
        if now - report["issued_at"] > REPORT_MAX_AGE: raise ValueError("stale match report")
        winner, loser = self.load_character(report["winner"]), self.load_character(report["loser"])
        self.conn.execute("INSERT INTO matches (id, winner_id, loser_id, recorded_at) VALUES (?, ?, ?, ?)", (report["match_id"], winner["id"], loser["id"], now))
        ratings = elo_update(winner["rating"], loser["rating"], report.get("draw", False))
        self.conn.executemany("UPDATE characters SET rating = ? WHERE id = ?", [(ratings[0], winner["id"]), (ratings[1], loser["id"])])
        return ratings

    def set_avatar(self, actor: Actor, url: str) -> None:
        if urlsplit(url).scheme != "https": raise ValueError("avatar URL must use https")
        if urlsplit(url).hostname not in AVATAR_HOSTS: raise ValueError("avatars are served from the game CDN only")
        image = self.fetch_image(url, AVATAR_MAX_BYTES + 1)
        if len(image) > AVATAR_MAX_BYTES: raise ValueError("avatar too large")
        if not image.startswith((b"\x89PNG", b"\xff\xd8\xff")): raise ValueError("avatar must be PNG or JPEG")
        self.conn.execute("UPDATE accounts SET avatar_url = ? WHERE id = ?", (url, actor.id))

    def ban_account(self, actor: Actor, account_id: int, days: int, reason: str, now: float) -> float:
        until = now + days * 86400
        if not actor.is_staff: raise PermissionError("moderators only")
        self.conn.execute("UPDATE accounts SET banned_until = ? WHERE id = ?", (until, account_id))
        moderation_log.warning("account %r banned for %r days by %r: %r", account_id, days, actor.id, reason)
        return until

    def lift_ban(self, actor: Actor, account_id: int) -> None:
        if not actor.is_staff: raise PermissionError("only moderators lift bans")
        self.conn.execute("UPDATE accounts SET banned_until = NULL WHERE id = ?", (account_id,))

    def report_player(self, actor: Actor, offender_id: int, message: str, reason: str, now: float) -> int:
        cursor = self.conn.execute("INSERT INTO reports (reporter_id, offender_id, message, reason, created_at) VALUES (?, ?, ?, ?, ?)", (actor.id, offender_id, message, reason, now))
        moderation_log.warning("chat report by %r against %r: %r", actor.id, offender_id, reason)
        return cursor.lastrowid
