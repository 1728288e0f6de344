"""Donation platform back end: donors manage monthly pledges, profiles and tax receipts (signed,
expiring links), the payment processor calls a signed webhook, campaign admins refund and export."""

import base64
import calendar
import hashlib
import hmac
import json
import os
import sqlite3
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timezone
from urllib.parse import urlsplit

WEBHOOK_SECRET = os.environ["DONATIONS_WEBHOOK_SECRET"]
RECEIPT_SECRET = os.environ["DONATIONS_RECEIPT_SECRET"]
WEBHOOK_TOLERANCE = 5 * 60
RECEIPT_LINK_MAX_AGE = 7 * 86400
GIFT_AID_PERCENT = 25
MATCH_MINIMUM_CENTS = 500
TAX_YEAR_START = (4, 6)  # UK tax years run from 6 April to 5 April
PROFILE_FIELDS = {"display_name", "email", "contact_ok", "gift_aid"}
PLEDGE_FIELDS = {"amount_cents", "day"}
ACCOUNT_COLUMNS = ("id", "display_name", "email", "contact_ok", "gift_aid", "is_admin")
PLEDGE_COLUMNS = ("id", "account_id", "campaign_id", "amount_cents", "day", "match_percent", "status")
CDN_HOSTS = frozenset({"cdn.give.example", "images.give.example"})
OWN_HOST = "give.example"
THANKS_PATH = "/thank-you"
IMAGE_MAX_BYTES = 2_000_000


@dataclass
class Account:
    id: int
    is_admin: bool = False  # campaign administrator
    is_active: bool = True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a CDN redirect is an error, never a hop to another host


_OPENER = urllib.request.build_opener(_NoRedirects)


def sign(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def gift_aid_cents(amount_cents: int, declared: bool) -> int:
    """Gift Aid reclaimed on a gift: 25p per pound from donors who made a declaration."""
    if not declared or amount_cents <= 0:
        return 0
    return amount_cents * GIFT_AID_PERCENT // 100


def matched_cents(amount_cents: int, match_percent: int, matched_so_far: int, cap_cents: int) -> int:
    """An employer's matching gift: a share of gifts from the minimum up, within the yearly cap."""
    if amount_cents < MATCH_MINIMUM_CENTS:
        return 0
    remaining = max(0, cap_cents - matched_so_far)
    return min(amount_cents * match_percent // 100, remaining)


def campaign_progress(raised_cents: int, goal_cents: int) -> int:
    """Whole percent of the goal raised, at most 100."""
    if goal_cents <= 0:
        return 0
    return min(100, raised_cents * 100 // goal_cents)


def tax_year(paid_on: date) -> int:
    """The tax year a gift counts in, named by the year it starts in."""
    if (paid_on.month, paid_on.day) >= TAX_YEAR_START:
        return paid_on.year
    return paid_on.year - 1


def pledge_schedule(start: date, day: int, count: int) -> list[date]:
    """The next ``count`` monthly collection dates from ``start``; day 31 of April is the 30th."""
    dates = []
    year, month = start.year, start.month
    while len(dates) < count:
        due = date(year, month, min(day, calendar.monthrange(year, month)[1]))
        if due >= start:
            dates.append(due)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return dates


def load_pledge(conn: sqlite3.Connection, pledge_id: int) -> dict | None:
    """Any pledge by id, for the collection job and for callers that check the donor."""
    row = conn.execute("SELECT id, account_id, campaign_id, amount_cents, day, match_percent, status FROM pledges WHERE id = ?", (pledge_id,)).fetchone()
    return None if row is None else dict(zip(PLEDGE_COLUMNS, row))


def get_pledge(conn: sqlite3.Connection, account: Account, pledge_id: int) -> dict | None:
    row = conn.execute("SELECT id, account_id, campaign_id, amount_cents, day, match_percent, status FROM pledges WHERE id = ? AND account_id = ?", (pledge_id, account.id)).fetchone()
    return None if row is None else dict(zip(PLEDGE_COLUMNS, row))


def pledge_history(conn: sqlite3.Connection, account: Account, pledge_id: int) -> list[tuple]:
    return conn.execute("SELECT id, amount_cents, status, paid_on FROM donations WHERE pledge_id = ? AND account_id = ? ORDER BY id", (pledge_id, account.id)).fetchall()


def change_pledge(conn: sqlite3.Connection, account: Account, pledge_id: int, changes: dict) -> dict:
    pledge = load_pledge(conn, pledge_id)
    if pledge is None: raise LookupError(f"no pledge {pledge_id}")
    if pledge["account_id"] != account.id: raise PermissionError("not your pledge")
    for key in PLEDGE_FIELDS & changes.keys():
        pledge[key] = changes[key]
    if not 1 <= pledge["day"] <= 31 or pledge["amount_cents"] < 100: raise ValueError("a pledge needs a day and 1.00")
    conn.execute("UPDATE pledges SET amount_cents = ?, day = ?, match_percent = ?, status = ? WHERE id = ?",
                 (pledge["amount_cents"], pledge["day"], pledge["match_percent"], pledge["status"], pledge_id))
    return pledge


def cancel_pledge(conn: sqlite3.Connection, account: Account, pledge_id: int) -> None:
    pledge = load_pledge(conn, pledge_id)
    if pledge is None: raise LookupError(f"no pledge {pledge_id}")
    if pledge["account_id"] != account.id: raise PermissionError("only its donor can cancel a pledge")
    conn.execute("UPDATE pledges SET status = 'cancelled' WHERE id = ?", (pledge_id,))


def annual_receipt(conn: sqlite3.Connection, account: Account, year: int) -> dict:
    """The donor's receipt for a tax year: paid gifts and the Gift Aid claimed on them."""
    rows = conn.execute("SELECT amount_cents, status, gift_aid FROM donations WHERE tax_year = ? AND account_id = ?", (year, account.id)).fetchall()
    total = gift_aid = gifts = 0
    for amount_cents, status, declared in rows:
        if status != "paid":
            continue
        total += amount_cents
        gift_aid += gift_aid_cents(amount_cents, bool(declared))
        gifts += 1
    return {"account_id": account.id, "year": year, "gifts": gifts, "total_cents": total, "gift_aid_cents": gift_aid}


def receipt_token(account: Account, year: int, now: float) -> str:
    claims = json.dumps({"sub": account.id, "year": year, "iat": now, "exp": now + RECEIPT_LINK_MAX_AGE})
    body = base64.urlsafe_b64encode(claims.encode()).decode()
    return body + "." + sign(body, RECEIPT_SECRET)


def open_receipt(conn: sqlite3.Connection, token: str, now: float) -> dict:
    body, _, mac = token.partition(".")
    if not hmac.compare_digest(sign(body, RECEIPT_SECRET), mac): raise ValueError("bad receipt link")
    claims = json.loads(base64.urlsafe_b64decode(body))
    if claims["exp"] <= now: raise ValueError("receipt link expired")
    return annual_receipt(conn, Account(claims["sub"]), claims["year"])


def handle_payment_event(conn: sqlite3.Connection, body: str, signature: str, now: float) -> int | None:
    """Processor callback: a pending donation is marked paid and counted towards its campaign."""
    if not hmac.compare_digest(sign(body, WEBHOOK_SECRET), signature): raise ValueError("bad signature")
    event = json.loads(body)
    if now - event["created_at"] > WEBHOOK_TOLERANCE: raise ValueError("stale event")
    if event["type"] != "payment.succeeded":
        return None
    row = conn.execute("SELECT campaign_id, amount_cents, status FROM donations WHERE id = ?", (event["donation_id"],)).fetchone()
    if row is None or row[2] != "pending":
        return None  # unknown, or applied already: the processor retries deliveries
    paid_on = datetime.fromtimestamp(event["created_at"], timezone.utc).date()
    conn.execute("UPDATE donations SET status = 'paid', paid_on = ?, tax_year = ? WHERE id = ?",
                 (paid_on.isoformat(), tax_year(paid_on), event["donation_id"]))
    conn.execute("UPDATE campaigns SET raised_cents = raised_cents + ? WHERE id = ?", (row[1], row[0]))
    return event["donation_id"]


def refund_donation(conn: sqlite3.Connection, actor: Account, donation_id: int) -> int:
    if not actor.is_admin: raise PermissionError("refunds are issued by campaign admins")
    row = conn.execute("SELECT campaign_id, amount_cents, status FROM donations WHERE id = ?", (donation_id,)).fetchone()
    if row is None or row[2] != "paid": raise ValueError("only paid donations can be refunded")
    conn.execute("UPDATE donations SET status = 'refunded' WHERE id = ?", (donation_id,))
    conn.execute("UPDATE campaigns SET raised_cents = raised_cents - ? WHERE id = ?", (row[1], row[0]))
    return row[1]


def export_donors(conn: sqlite3.Connection, actor: Account, campaign_id: int) -> list[dict]:
    """A campaign's donors with their paid total; e-mail only for those who agreed to contact."""
    if not actor.is_admin: raise PermissionError("donor lists are for campaign admins")
    rows = conn.execute("SELECT a.id, a.display_name, a.email, a.contact_ok, SUM(d.amount_cents) FROM donations d JOIN accounts a ON a.id = d.account_id"
                        " WHERE d.campaign_id = ? AND d.status = 'paid' GROUP BY a.id ORDER BY a.id", (campaign_id,)).fetchall()
    return [(account_id, name, email if contact_ok else None, total) for account_id, name, email, contact_ok, total in rows]


def update_profile(conn: sqlite3.Connection, account: Account, changes: dict) -> dict:
    row = conn.execute("SELECT id, display_name, email, contact_ok, gift_aid, is_admin FROM accounts WHERE id = ?", (account.id,)).fetchone()
    profile = dict(zip(ACCOUNT_COLUMNS, row))
    profile.update({k: v for k, v in changes.items() if k in PROFILE_FIELDS})
    conn.execute("UPDATE accounts SET display_name = ?, email = ?, contact_ok = ?, gift_aid = ?, is_admin = ? WHERE id = ?",
                 (profile["display_name"], profile["email"], profile["contact_ok"], profile["gift_aid"], profile["is_admin"], account.id))
    return profile


def fetch_campaign_image(url: str) -> bytes:
    """A campaign's banner image from the CDN: PNG or JPEG only."""
    if urlsplit(url).hostname not in CDN_HOSTS:
        raise ValueError("images are served from the CDN only")
    with _OPENER.open(url, timeout=10) as response:
        data = response.read(IMAGE_MAX_BYTES)
    if not data.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        raise ValueError("not a PNG or JPEG image")
    return data


def after_donation_url(target: str | None) -> str:
    """Where the thank-you page sends the donor: their target on this site, else the default."""
    target = (target or THANKS_PATH).replace("\\", "/")
    if urlsplit(target).scheme not in ("", "https"): return THANKS_PATH
    if urlsplit(target).netloc not in ("", OWN_HOST): return THANKS_PATH
    return target
