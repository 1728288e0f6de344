"""Rate limiting for the messaging gateway; all methods take the current time `now` in seconds."""

from collections import deque
from dataclasses import dataclass

WINDOW_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass
class TokenBucket:
    capacity: int
    refill_per_second: float
    tokens: float = 0.0
    updated: float = 0.0

    def refill(self, now: float) -> None:
        elapsed = max(now - self.updated, 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self.updated = now

    def allow(self, now: float, cost: int = 1) -> bool:
        """Take cost tokens if that many are available."""
        self.refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def wait_time(self, now: float, cost: int = 1) -> float:
        """Seconds until cost tokens are available (0.0 when they already are)."""
        self.refill(now)
        missing = cost - self.tokens
        if missing <= 0:
            return 0.0
        return missing / self.refill_per_second


class SlidingWindowLimiter:
    """At most `limit` events per key in any `window` seconds; an event expires after window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.events: dict[str, deque] = {}

    def _recent(self, key: str, now: float) -> deque:
        events = self.events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def allow(self, key: str, now: float) -> bool:
        events = self._recent(key, now)
        if len(events) < self.limit:
            events.append(now)
            return True
        return False

    def remaining(self, key: str, now: float) -> int:
        return self.limit - len(self._recent(key, now))

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until the key may send again (0.0 when it may send now)."""
        events = self._recent(key, now)
        if len(events) < self.limit:
            return 0.0
        return events[0] + self.window - now


def parse_limit(spec: str) -> tuple[int, int]:
    """'100/minute' -> (100, 60); the count must be positive."""
    count, _, unit = spec.strip().partition("/")
    if unit not in WINDOW_UNITS or int(count) <= 0:
        raise ValueError(f"bad rate limit {spec!r}")
    return int(count), WINDOW_UNITS[unit]


def count_allowed(timestamps: list[float], limit: int, window: int) -> int:
    """Events a fixed-window counter lets through; windows start at multiples of window."""
    allowed = 0
    counts: dict[int, int] = {}
    for ts in timestamps:
        slot = int(ts) // window
        if counts.get(slot, 0) < limit:
            counts[slot] = counts.get(slot, 0) + 1
            allowed += 1
    return allowed


def burst_sizes(timestamps: list[float], gap: float) -> list[int]:
    """Sizes of bursts in sorted timestamps; an event within gap seconds of the last joins it."""
    if not timestamps:
        return []
    sizes = []
    current = 1
    for i in range(1, len(timestamps)):
        if timestamps[i] - timestamps[i - 1] <= gap:
            current += 1
        else:
            sizes.append(current)
            current = 1
    sizes.append(current)
    return sizes


def blocked_keys(limiter, keys: list[str], now: float, blocked: list | None = None) -> list:
    """Append the keys that have no requests left in the current window."""
    if blocked is None:
        blocked = []
    for key in keys:
        if limiter.remaining(key, now) <= 0:
            blocked.append(key)
    return blocked
