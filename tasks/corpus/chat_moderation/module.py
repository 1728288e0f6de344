"""Chat moderation: banned-word masking, shouting/link checks, strikes and slow mode."""

from __future__ import annotations

import re

BANNED = frozenset({"darn", "heck", "frick"})
STRIKE_ACTIONS = [(5, "ban"), (3, "mute"), (1, "warn")]
STRIKE_DECAY_SECONDS = 24 * 3600
MAX_LENGTH = 500
MAX_LINKS = 2
CAPS_RATIO = 0.7
MIN_CAPS_LETTERS = 8
WORD_RE = re.compile(r"[A-Za-z']+")
LINK_RE = re.compile(r"https?://\S+")


def mask_word(word: str) -> str:
    """Keeps the first letter and stars the rest: 'heck' -> 'h***'."""
    if len(word) <= 1:
        return word
    return word[0] + "*" * (len(word) - 1)


def filter_message(text: str, banned: frozenset[str] = BANNED) -> tuple[str, int]:
    """Masks banned whole words (any case); returns the new text and the number of hits."""
    pieces = []
    hits = 0
    last = 0
    for match in WORD_RE.finditer(text):
        if match.group().lower() in banned:
            pieces.append(text[last:match.start()] + mask_word(match.group()))
            last = match.end()
            hits += 1
    pieces.append(text[last:])
    return "".join(pieces), hits


def is_shouting(text: str) -> bool:
    """Mostly capital letters, ignoring short messages such as "OK" or "LOL"."""
    letters = [char for char in text if char.isalpha()]
    if len(letters) < MIN_CAPS_LETTERS:
        return False
    upper = sum(1 for char in letters if char.isupper())
    return upper / len(letters) >= CAPS_RATIO


def violations(text: str) -> list[str]:
    """Names of the rules a message breaks, in a fixed order."""
    found = []
    if len(text) > MAX_LENGTH:
        found.append("too_long")
    if len(LINK_RE.findall(text)) > MAX_LINKS:
        found.append("links")
    if is_shouting(text):
        found.append("shouting")
    if filter_message(text)[1] > 0:
        found.append("language")
    return found


def action_for(strikes: int) -> str:
    """Escalation for a number of active strikes."""
    for threshold, action in STRIKE_ACTIONS:
        if strikes >= threshold:
            return action
    return "none"


class StrikeBook:
    """Strike timestamps per user; strikes expire after STRIKE_DECAY_SECONDS."""
    def __init__(self) -> None:
        self.strikes: dict[str, list[float]] = {}

    def active(self, user: str, now: float) -> int:
        count = 0
        for at in self.strikes.get(user, []):
            if now - at < STRIKE_DECAY_SECONDS:
                count += 1
        return count

    def add(self, user: str, now: float) -> str:
        self.strikes.setdefault(user, []).append(now)
        return action_for(self.active(user, now))


class SlowMode:
    """Minimum seconds between two messages of one user in a channel; moderators are exempt."""
    def __init__(self, intervals: dict[str, int], exempt: list[str] | None = None) -> None:
        self.intervals = intervals
        if exempt is None:
            exempt = []
        self.exempt = exempt
        self.last_sent: dict[tuple[str, str], float] = {}

    def exempt_user(self, user: str) -> None:
        self.exempt.append(user)

    def wait_time(self, channel: str, user: str, now: float) -> float:
        last = self.last_sent.get((channel, user))
        if user in self.exempt or last is None:
            return 0.0
        return max(self.intervals.get(channel, 0) - (now - last), 0.0)

    def try_send(self, channel: str, user: str, now: float) -> bool:
        if self.wait_time(channel, user, now) > 0:
            return False
        self.last_sent[(channel, user)] = now
        return True


def moderate(message: dict, book: StrikeBook, slow: SlowMode) -> dict:
    """Decision for one message {"user", "channel", "text", "sent_at"}; warnings still post."""
    if not slow.try_send(message["channel"], message["user"], message["sent_at"]):
        return {"allowed": False, "text": "", "action": "slowed"}
    reasons = violations(message["text"])
    action = book.add(message["user"], message["sent_at"]) if reasons else "none"
    text = filter_message(message["text"])[0]
    return {"allowed": action in ("none", "warn"), "text": text, "action": action}
