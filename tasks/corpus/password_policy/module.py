"""Password policy for the account service: strength rules, reuse history and login lockout."""
import math
import string
from dataclasses import dataclass, field

COMMON_PASSWORDS = frozenset({"password", "123456", "qwerty", "letmein", "welcome", "iloveyou"})
POOL_SIZES = {"lower": 26, "upper": 26, "digit": 10, "symbol": 33}
SCORE_THRESHOLDS = (28, 36, 60, 128)


@dataclass(frozen=True)
class Policy:
    min_length: int = 12
    max_length: int = 128
    min_classes: int = 3
    max_repeat: int = 3


def character_classes(password: str) -> dict[str, bool]:
    classes = {}
    classes["lower"] = any(ch.islower() for ch in password)
    classes["upper"] = any(ch.isupper() for ch in password)
    classes["digit"] = any(ch.isdigit() for ch in password)
    classes["symbol"] = any(ch in string.punctuation or ch == " " for ch in password)
    return classes


def longest_run(password: str) -> int:
    """Length of the longest run of one repeated character."""
    if not password:
        return 0
    best = 1
    run = 1
    for index in range(1, len(password)):
        if password[index] == password[index - 1]:
            run += 1
            best = max(best, run)
        else:
            run = 1
    return best


def has_sequence(password: str, length: int = 4) -> bool:
    """True when the password contains an ascending run such as 'abcd' or '4567'."""
    lowered = password.lower()
    for start in range(len(lowered) - length + 1):
        chunk = lowered[start:start + length]
        if all(ord(chunk[i + 1]) - ord(chunk[i]) == 1 for i in range(length - 1)):
            return True
    return False


def violations(password: str, policy: Policy, problems: list[str] | None = None) -> list[str]:
    """Append the name of every rule the password breaks, in a fixed order, and return the list."""
    if problems is None:
        problems = []
    lowered = password.lower()
    if len(password) < policy.min_length:
        problems.append("too_short")
    if len(password) > policy.max_length:
        problems.append("too_long")
    if sum(character_classes(password).values()) < policy.min_classes:
        problems.append("too_few_classes")
    if longest_run(password) > policy.max_repeat:
        problems.append("repeated_characters")
    if has_sequence(password):
        problems.append("sequence")
    if lowered in COMMON_PASSWORDS:
        problems.append("common_password")
    return problems


def mentions_personal(password: str, personal: list[str]) -> bool:
    """True when a personal word of 3+ letters (name, e-mail part) appears in the password."""
    lowered = password.lower()
    return any(len(word) >= 3 and word.lower() in lowered for word in personal)


def strength_score(password: str) -> int:
    """0 (very weak) to 4 (strong) from a brute-force entropy estimate in bits."""
    pool = 0
    for name, used in character_classes(password).items():
        if used:
            pool += POOL_SIZES[name]
    bits = len(password) * math.log2(pool) if pool else 0.0
    return sum(1 for limit in SCORE_THRESHOLDS if bits >= limit)


def recently_used(candidate_hash: str, history: list[str], depth: int = 5) -> bool:
    """True when the hash is among the newest `depth` hashes (history is oldest first)."""
    return candidate_hash in history[max(0, len(history) - depth):]


@dataclass
class LockoutTracker:
    """Failed logins per account; each lockout lasts twice as long as the previous one."""
    threshold: int = 5
    window_seconds: int = 900
    base_lock_seconds: int = 60
    failures: dict[str, list[float]] = field(default_factory=dict)
    lockouts: dict[str, int] = field(default_factory=dict)
    locked_until: dict[str, float] = field(default_factory=dict)

    def record_failure(self, user: str, now: float) -> None:
        recent = [t for t in self.failures.get(user, []) if now - t < self.window_seconds]
        recent.append(now)
        self.failures[user] = recent
        if len(recent) >= self.threshold:
            count = self.lockouts.get(user, 0) + 1
            self.lockouts[user] = count
            self.locked_until[user] = now + self.base_lock_seconds * 2 ** (count - 1)
            self.failures[user] = []

    def is_locked(self, user: str, now: float) -> bool:
        return now < self.locked_until.get(user, 0)

    def record_success(self, user: str) -> None:
        """A successful login clears the failure count but not the lockout history."""
        self.failures.pop(user, None)
