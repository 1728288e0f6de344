"""Sales pipeline back end of a CRM: reps keep their own accounts and deals (edits, closing, notes,
logos, signed quote links for customers), sales managers reassign deals, override forecast
categories and export the team's pipeline; the e-mail provider reports opens, clicks and bounces
through a signed webhook. Amounts are integer cents; deals are weighted by their stage's probability."""
import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

audit = logging.getLogger("crm.audit")

MAIL_WEBHOOK_SECRET = os.environ["CRM_MAIL_WEBHOOK_SECRET"]
QUOTE_SECRET = os.environ["CRM_QUOTE_SECRET"]
APP_HOST = "crm.salesdesk.example"
HOME_PAGE = "/pipeline"
LOGO_HOSTS = frozenset({"logos.salesdesk.example", "assets.brandfetch.example"})
MAX_LOGO_BYTES = 512_000
QUOTE_TTL = 14 * 86400
WEBHOOK_TOLERANCE = 300
MAX_NOTE_CHARS = 2000
STAGE_PROBABILITY = {"prospect": 10, "qualified": 25, "proposal": 50, "negotiation": 75, "won": 100, "lost": 0}
CLOSED_STAGES = frozenset({"won", "lost"})
COMMIT_PROBABILITY = 75
BEST_CASE_PROBABILITY = 50
FORECAST_CATEGORIES = ("closed", "commit", "best_case", "pipeline", "omitted")
FISCAL_YEAR_START = 2  # the fiscal year starts on 1 February and is named after the year it ends in
COMMISSION_FLOOR_PCT = 50  # below half of quota no commission is paid
COMMISSION_TIERS = ((100, 800), (150, 1200), (None, 1500))  # (up to % of quota, basis points)
AGEING_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"))
OLDEST_BUCKET = "over 90"
TIER_DISCOUNT_PCT = {"list": 0, "volume": 10, "partner": 20}
DEAL_FIELDS = {"name", "amount_cents", "stage", "close_date", "next_step"}
ACCOUNT_COLUMNS = ("id", "owner_id", "name", "website", "industry", "price_tier")
DEAL_COLUMNS = ("id", "owner_id", "account_id", "name", "amount_cents", "stage", "close_date", "created_on", "closed_on", "next_step", "forecast_override")


@dataclass
class Actor:
    id: int
    is_manager: bool = False


def weighted_value(deal: dict) -> int:
    """The deal's amount times its stage probability, rounded half up to the cent."""
    return (deal["amount_cents"] * STAGE_PROBABILITY[deal["stage"]] + 50) // 100


def weighted_pipeline(deals: list[dict]) -> int:
    return sum(weighted_value(deal) for deal in deals if deal["stage"] not in CLOSED_STAGES)


def fiscal_quarter(day: date) -> tuple[int, int]:
    """(fiscal year, quarter) of a day."""
    year = day.year + 1 if day.month >= FISCAL_YEAR_START else day.year
    return year, (day.month - FISCAL_YEAR_START) % 12 // 3 + 1


def quota_attainment(deals: list[dict], quotas: dict[int, int], fiscal_year: int) -> dict[int, float]:
    """Per quarter of the fiscal year with a quota: won bookings closed in it, in percent of the quota."""
    booked = dict.fromkeys(quotas, 0)
    for deal in deals:
        if deal["stage"] != "won":
            continue
        year, quarter = fiscal_quarter(deal["closed_on"])
        if year == fiscal_year and quarter in booked:
            booked[quarter] += deal["amount_cents"]
    return {quarter: round(100 * booked[quarter] / quotas[quarter], 1) for quarter in booked if quotas[quarter] > 0}


def commission_cents(won_cents: int, quota_cents: int) -> int:
    """Marginal tiers: each slice of the bookings earns the rate of the attainment band it falls in."""
    if quota_cents <= 0:
        raise ValueError("quota must be positive")
    if won_cents * 100 < quota_cents * COMMISSION_FLOOR_PCT:
        return 0
    paid, lower = 0, 0
    for upper_pct, rate_bp in COMMISSION_TIERS:
        upper = won_cents if upper_pct is None else min(won_cents, quota_cents * upper_pct // 100)
        if upper > lower:
            paid += (upper - lower) * rate_bp // 10_000
            lower = upper
    return paid


def ageing_bucket(created_on: date, today: date) -> str:
    age = (today - created_on).days
    for limit, label in AGEING_BUCKETS:
        if age <= limit:
            return label
    return OLDEST_BUCKET


def forecast_category(deal: dict, today: date) -> str:
    """A manager's override wins; open deals past their close date or closing in a later quarter do not count yet."""
    if deal["forecast_override"]: return deal["forecast_override"]
    if deal["stage"] == "won": return "closed"
    if deal["stage"] == "lost" or deal["close_date"] < today: return "omitted"
    if fiscal_quarter(deal["close_date"]) != fiscal_quarter(today): return "pipeline"
    probability = STAGE_PROBABILITY[deal["stage"]]
    if probability >= COMMIT_PROBABILITY: return "commit"
    return "best_case" if probability >= BEST_CASE_PROBABILITY else "pipeline"


def _deal(row: tuple) -> dict:
    deal = dict(zip(DEAL_COLUMNS, row))
    for key in ("close_date", "created_on", "closed_on"):
        deal[key] = date.fromisoformat(deal[key]) if deal[key] else None
    return deal


def load_deal(conn: sqlite3.Connection, deal_id: int) -> dict:
    """Any deal by id, for internal steps (callers check who may see or change it)."""
    row = conn.execute("SELECT id, owner_id, account_id, name, amount_cents, stage, close_date, created_on, closed_on, next_step, forecast_override FROM deals WHERE id = ?", (deal_id,)).fetchone()
    if row is None: raise LookupError(f"no deal {deal_id}")
    return _deal(row)


def get_deal(conn: sqlite3.Connection, actor: Actor, deal_id: int) -> dict | None:
    row = conn.execute("SELECT id, owner_id, account_id, name, amount_cents, stage, close_date, created_on, closed_on, next_step, forecast_override FROM deals WHERE id = ? AND owner_id = ?", (deal_id, actor.id)).fetchone()
    return None if row is None else _deal(row)


def get_account(conn: sqlite3.Connection, actor: Actor, account_id: int) -> dict | None:
    row = conn.execute("SELECT id, owner_id, name, website, industry, price_tier FROM accounts WHERE id = ? AND owner_id = ?", (account_id, actor.id)).fetchone()
    return None if row is None else dict(zip(ACCOUNT_COLUMNS, row))


def update_deal(conn: sqlite3.Connection, actor: Actor, deal_id: int, changes: dict, today: date) -> dict:
    """A rep's edit of an open deal; moving it to won or lost closes it today."""
    deal = load_deal(conn, deal_id)
    if deal["owner_id"] != actor.id: raise PermissionError("not your deal")
    if deal["stage"] in CLOSED_STAGES: raise ValueError("closed deals cannot be edited")
    deal.update({k: v for k, v in changes.items() if k in DEAL_FIELDS})
    if deal["stage"] not in STAGE_PROBABILITY: raise ValueError(f"unknown stage {deal['stage']!r}")
    if deal["amount_cents"] <= 0: raise ValueError("a deal needs an amount")
    closed_on = today.isoformat() if deal["stage"] in CLOSED_STAGES else None
    conn.execute("UPDATE deals SET name = ?, amount_cents = ?, stage = ?, close_date = ?, closed_on = ?, next_step = ?, forecast_override = ? WHERE id = ?",
                 (deal["name"], deal["amount_cents"], deal["stage"], date.fromisoformat(str(deal["close_date"])).isoformat(), closed_on, deal["next_step"], deal["forecast_override"], deal_id))
    audit.info("deal %d edited by rep %d, next step %r", deal_id, actor.id, deal["next_step"])
    return load_deal(conn, deal_id)


def add_note(conn: sqlite3.Connection, actor: Actor, deal_id: int, note: str, now: float) -> None:
    deal = load_deal(conn, deal_id)
    if deal["owner_id"] != actor.id: raise PermissionError("not your deal")
    conn.execute("INSERT INTO activities (deal_id, rep_id, kind, body, at) VALUES (?, ?, 'note', ?, ?)", (deal_id, actor.id, note[:MAX_NOTE_CHARS], now))
    audit.info("rep %d noted on deal %d: %r", actor.id, deal_id, note)


def reassign_deal(conn: sqlite3.Connection, actor: Actor, deal_id: int, new_owner_id: int) -> None:
    """Territory changes and leavers: a sales manager moves a deal to another active rep."""
    if not actor.is_manager: raise PermissionError("sales managers only")
    moved = conn.execute("UPDATE deals SET owner_id = ? WHERE id = ? AND ? IN (SELECT id FROM reps WHERE active = 1)", (new_owner_id, deal_id, new_owner_id)).rowcount
    if not moved: raise LookupError("no such deal or active rep")
    audit.info("deal %d reassigned to rep %d by manager %d", deal_id, new_owner_id, actor.id)


def override_forecast(conn: sqlite3.Connection, actor: Actor, deal_id: int, category: str | None) -> None:
    if category is not None and category not in FORECAST_CATEGORIES: raise ValueError(f"unknown category {category!r}")
    if not actor.is_manager: raise PermissionError("sales managers only")
    conn.execute("UPDATE deals SET forecast_override = ? WHERE id = ?", (category, deal_id))


def export_pipeline(conn: sqlite3.Connection, actor: Actor, today: date) -> list[dict]:
    """Every rep's open deals for the weekly forecast call, oldest close date first."""
    if not actor.is_manager: raise PermissionError("sales managers only")
    deals = [_deal(row) for row in conn.execute("SELECT id, owner_id, account_id, name, amount_cents, stage, close_date, created_on, closed_on, next_step, forecast_override FROM deals WHERE stage NOT IN ('won', 'lost') ORDER BY close_date, id")]
    return [{"id": d["id"], "owner_id": d["owner_id"], "name": d["name"], "amount_cents": d["amount_cents"], "weighted_cents": weighted_value(d),
             "forecast": forecast_category(d, today), "age": ageing_bucket(d["created_on"], today)} for d in deals]


def sign(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def quote_link(conn: sqlite3.Connection, actor: Actor, deal_id: int, now: float) -> str:
    """A link the rep sends the customer: it shows the deal's quote without signing in, until it expires."""
    if get_deal(conn, actor, deal_id) is None: raise LookupError(f"no deal {deal_id}")
    body = base64.urlsafe_b64encode(json.dumps({"deal": deal_id, "iat": now, "exp": now + QUOTE_TTL}).encode()).decode()
    return f"https://{APP_HOST}/quotes/{body}.{sign(body, QUOTE_SECRET)}"


def open_quote(conn: sqlite3.Connection, token: str, now: float) -> dict:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(body, QUOTE_SECRET), mac): raise PermissionError("bad quote link")
    claims = json.loads(base64.urlsafe_b64decode(body))
    if claims["exp"] <= now: raise PermissionError("quote link expired")
    deal = load_deal(conn, claims["deal"])
    (tier,) = conn.execute("SELECT price_tier FROM accounts WHERE id = ?", (deal["account_id"],)).fetchone()
    discount = deal["amount_cents"] * TIER_DISCOUNT_PCT[tier] // 100
    return {"deal": deal["name"], "list_cents": deal["amount_cents"], "discount_cents": discount, "total_cents": deal["amount_cents"] - discount}


def mail_events(conn: sqlite3.Connection, body: str, timestamp: int, signature: str, now: int) -> int:
    """The e-mail provider's batch of events, signed over "timestamp.body"; returns how many were recorded."""
    if abs(now - timestamp) > WEBHOOK_TOLERANCE: raise ValueError("event batch outside the replay window")
    expected = sign(f"{timestamp}.{body}", MAIL_WEBHOOK_SECRET)
    if not hmac.compare_digest(expected, signature): raise ValueError("bad webhook signature")
    recorded = 0
    for event in json.loads(body):
        if event["type"] == "bounce":
            recorded += conn.execute("UPDATE contacts SET email_status = 'bounced' WHERE email = ?", (event["email"],)).rowcount
        elif event["type"] in ("open", "click"):
            recorded += conn.execute("INSERT INTO activities (deal_id, rep_id, kind, body, at) VALUES (?, NULL, ?, ?, ?)", (event["deal_id"], event["type"], event["email"], event["at"])).rowcount
    return recorded


def set_account_logo(conn: sqlite3.Connection, actor: Actor, account_id: int, url: str, http_get) -> None:
    """An account's company logo from the URL its rep gives (http_get: the CRM's client, which follows no redirects)."""
    if get_account(conn, actor, account_id) is None: raise LookupError(f"no account {account_id}")
    if urlsplit(url).scheme != "https": raise ValueError("logos are fetched over https")
    if urlsplit(url).hostname not in LOGO_HOSTS: raise ValueError("logos come from the logo service only")
    data = http_get(url)
    if len(data) > MAX_LOGO_BYTES or not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")): raise ValueError("logo must be a PNG or JPEG under 500 kB")
    conn.execute("UPDATE accounts SET logo = ? WHERE id = ?", (data, account_id))


def after_login(target: str) -> str:
    """Where a rep lands after signing in: a page of the CRM itself, else the pipeline board."""
    target = target.strip().replace("\\", "/")
    if urlsplit(target).scheme not in ("", "https"): return HOME_PAGE
    if urlsplit(target).netloc not in ("", APP_HOST): return HOME_PAGE
    return target
