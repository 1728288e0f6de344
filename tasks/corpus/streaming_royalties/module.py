"""Monthly royalty run of a music streaming service and its rights holders' quarterly statements.

Rules:

* A play counts as a stream once it lasted MIN_PLAY_SECONDS, or the whole track when the track is
  shorter. One listener counts at most DAILY_CAP streams of one track per day; further plays are
  taken for repeat or automated listening and do not count.
* Each subscription tier has a pool of its own: ROYALTY_SHARE_BP of the tier's net revenue of the
  month. A pool is shared pro rata by the tier's streams in whole cents: each track gets the floor
  of its exact share, and the cents left over go one each to the tracks with the largest
  remainders (ties to the lower track id), so the pool is paid out exactly. A tier without streams
  pays nothing that month.
* A track's money is split among its rights holders by basis points, floored; the cents left over go
  one each to the holders with the largest shares (ties to the lower holder id).
* Statements are quarterly. Earnings first recoup the holder's outstanding advance (RECOUP_PCT of
  the quarter's earnings at most); what is due, with any amount carried from the last statement,
  is paid once it reaches MIN_PAYOUT_CENTS and carried forward otherwise.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

MIN_PLAY_SECONDS = 30
DAILY_CAP = 10
ROYALTY_SHARE_BP = 5_200
FULL_SHARE_BP = 10_000
RECOUP_PCT = 100
MIN_PAYOUT_CENTS = 2_000
TIERS = ("free", "student", "premium", "family")


@dataclass(frozen=True)
class Play:
    listener_id: int
    track_id: int
    tier: str
    seconds: int
    track_seconds: int
    played_at: datetime


@dataclass(frozen=True)
class Statement:
    holder_id: int
    year: int
    quarter: int
    earned_cents: int
    recouped_cents: int
    carried_in_cents: int
    paid_cents: int
    carried_out_cents: int
    advance_left_cents: int


def counts_as_stream(play: Play) -> bool:
    return play.seconds >= min(MIN_PLAY_SECONDS, play.track_seconds)


def qualifying_streams(plays: list[Play], year: int, month: int) -> dict[str, Counter]:
    """Streams of the month per tier and track, after the duration rule and the daily cap."""
    per_day: Counter = Counter()
    streams: dict[str, Counter] = defaultdict(Counter)
    for play in plays:
        if (play.played_at.year, play.played_at.month) != (year, month) or not counts_as_stream(play):
            continue
        key = (play.listener_id, play.track_id, play.played_at.date())
        per_day[key] += 1
        if per_day[key] > DAILY_CAP:
            continue
        streams[play.tier][play.track_id] += 1
    return streams


def tier_pools(net_revenue_cents: dict[str, int]) -> dict[str, int]:
    """The royalty pool of each tier with revenue, floored to the cent."""
    pools = {}
    for tier, revenue in net_revenue_cents.items():
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        if revenue > 0:
            pools[tier] = revenue * ROYALTY_SHARE_BP // FULL_SHARE_BP
    return pools


def allocate_pro_rata(pool_cents: int, streams: dict[int, int]) -> dict[int, int]:
    """A pool shared by streams in whole cents (largest remainders get the leftover cents)."""
    total = sum(streams.values())
    if total == 0:
        return {}
    shares = {track: pool_cents * count // total for track, count in streams.items()}
    left = pool_cents - sum(shares.values())
    by_remainder = sorted(streams, key=lambda track: (-(pool_cents * streams[track] % total), track))
    for track in by_remainder[:left]:
        shares[track] += 1
    return shares


def rate_per_thousand(pool_cents: int, streams: int) -> int:
    """What a thousand streams of the tier earned, in cents rounded half up (0 without streams)."""
    if streams <= 0:
        return 0
    return (2 * pool_cents * 1000 + streams) // (2 * streams)


def split_among_holders(amount_cents: int, shares_bp: dict[int, int]) -> dict[int, int]:
    if sum(shares_bp.values()) != FULL_SHARE_BP or min(shares_bp.values()) <= 0:
        raise ValueError("holders' shares must be positive and add up to 100%")
    split = {holder: amount_cents * bp // FULL_SHARE_BP for holder, bp in shares_bp.items()}
    left = amount_cents - sum(split.values())
    for holder in sorted(shares_bp, key=lambda h: (-shares_bp[h], h))[:left]:
        split[holder] += 1
    return split


def monthly_run(plays: list[Play], net_revenue_cents: dict[str, int], splits: dict[int, dict[int, int]],
                year: int, month: int) -> tuple[dict[int, int], dict[str, int]]:
    """Cents earned by each rights holder in the month over every tier's pool, and each tier's rate per thousand streams."""
    streams = qualifying_streams(plays, year, month)
    earned: Counter = Counter()
    rates = {}
    for tier, pool in tier_pools(net_revenue_cents).items():
        tier_streams = streams.get(tier, Counter())
        rates[tier] = rate_per_thousand(pool, sum(tier_streams.values()))
        for track, cents in allocate_pro_rata(pool, tier_streams).items():
            for holder, share in split_among_holders(cents, splits[track]).items():
                earned[holder] += share
    return dict(earned), rates


def recoup(earned_cents: int, advance_cents: int, recoup_pct: int = RECOUP_PCT) -> tuple[int, int]:
    """(cents recouped from these earnings, advance still outstanding)."""
    recouped = min(earned_cents * recoup_pct // 100, advance_cents)
    return recouped, advance_cents - recouped


def quarter_of(year: int, month: int) -> tuple[int, int]:
    if not 1 <= month <= 12:
        raise ValueError(f"no month {month}")
    return year, (month - 1) // 3 + 1


def quarterly_statement(holder_id: int, monthly_earnings: dict[tuple[int, int], int], year: int, quarter: int,
                        advance_cents: int, carried_cents: int = 0) -> Statement:
    """One quarter's statement from the holder's earnings per (year, month)."""
    earned = sum(cents for (y, m), cents in monthly_earnings.items() if quarter_of(y, m) == (year, quarter))
    recouped, advance_left = recoup(earned, advance_cents)
    due = earned - recouped + carried_cents
    paid = due if due >= MIN_PAYOUT_CENTS else 0
    return Statement(holder_id, year, quarter, earned, recouped, carried_cents, paid, due - paid, advance_left)


def statements_for_year(holder_id: int, monthly_earnings: dict[tuple[int, int], int], year: int,
                        advance_cents: int, carried_cents: int = 0) -> list[Statement]:
    """The four statements of a year, each taking the advance and the carry the last one left."""
    statements = []
    for quarter in range(1, 5):
        statement = quarterly_statement(holder_id, monthly_earnings, year, quarter, advance_cents, carried_cents)
        statements.append(statement)
        advance_cents, carried_cents = statement.advance_left_cents, statement.carried_out_cents
    return statements
