"""Retail loyalty programme: earning and redeeming points, tiers, expiry and birthday bonus.
A member is a dict: {"id", "birthday", "tier", "spend", "batches"} where batches is a list
of [earned_on, points] pairs, oldest first. Amounts are integer cents; 1 point = 1 cent.
"""

from datetime import date

POINTS_PER_EURO = {"bronze": 1, "silver": 2, "gold": 3}
TIER_THRESHOLDS = [("gold", 200_000), ("silver", 50_000)]
MIN_REDEEM_POINTS = 500
REDEEM_STEP = 100
EXPIRY_DAYS = 365


def new_member(member_id: str, birthday: date) -> dict:
    return {"id": member_id, "birthday": birthday, "tier": "bronze", "spend": 0, "batches": []}


def tier_for_spend(spend: int) -> str:
    """Tier for a lifetime spend in cents; thresholds are inclusive."""
    for tier, threshold in TIER_THRESHOLDS:
        if spend >= threshold:
            return tier
    return "bronze"


def points_for_purchase(member: dict, amount: int, day: date) -> int:
    """Tier rate per whole euro spent, doubled during the member's birthday month."""
    points = amount // 100 * POINTS_PER_EURO[member["tier"]]
    if day.month == member["birthday"].month:
        points *= 2
    return points


def record_purchase(member: dict, amount: int, day: date) -> int:
    """Book a purchase; points use the tier held before it, then the tier is updated."""
    if amount <= 0:
        raise ValueError("purchase amount must be positive")
    points = points_for_purchase(member, amount, day)
    member["spend"] += amount
    member["tier"] = tier_for_spend(member["spend"])
    if points > 0:
        member["batches"].append([day, points])
    return points


def balance(member: dict) -> int:
    total = 0
    for _, points in member["batches"]:
        total += points
    return total


def expire_points(member: dict, today: date) -> int:
    """Drop batches older than EXPIRY_DAYS days and return how many points expired."""
    expired = 0
    kept = []
    for earned, points in member["batches"]:
        if (today - earned).days > EXPIRY_DAYS:
            expired += points
        else:
            kept.append([earned, points])
    member["batches"] = kept
    return expired


def redeemable(points: int) -> int:
    """Most points that can be redeemed: whole steps of 100, and nothing below 500."""
    if points < MIN_REDEEM_POINTS:
        return 0
    return points // REDEEM_STEP * REDEEM_STEP


def redeem(member: dict, points: int) -> int:
    """Spend points from the oldest batches first and return the discount in cents."""
    if points != redeemable(points) or points > balance(member):
        raise ValueError(f"cannot redeem {points} points")
    remaining = points
    for batch in member["batches"]:
        used = min(batch[1], remaining)
        batch[1] -= used
        remaining -= used
        if remaining == 0:
            break
    member["batches"] = [batch for batch in member["batches"] if batch[1] > 0]
    return points


def expiring_soon(member: dict, today: date, within_days: int = 30) -> int:
    """Points that will expire during the next within_days days."""
    total = 0
    for earned, points in member["batches"]:
        age = (today - earned).days
        if age > EXPIRY_DAYS - within_days and age <= EXPIRY_DAYS:
            total += points
    return total


def next_tier_gap(member: dict) -> tuple[str, int] | None:
    """The next tier up and the spend in cents still needed to reach it (None at the top)."""
    for tier, threshold in reversed(TIER_THRESHOLDS):
        if member["spend"] < threshold:
            return tier, threshold - member["spend"]
    return None


def leaderboard(members: list[dict], n: int = 3) -> list[tuple[str, int]]:
    """The n members with the highest balance; ties go to the lower member id."""
    rows = [(member["id"], balance(member)) for member in members]
    return sorted(rows, key=lambda row: (-row[1], row[0]))[:n]


def statement(member: dict, lines: list | None = None) -> list:
    """Append one 'YYYY-MM-DD: N points' line per batch to lines."""
    if lines is None:
        lines = []
    for earned, points in member["batches"]:
        lines.append(f"{earned.isoformat()}: {points} points")
    return lines
