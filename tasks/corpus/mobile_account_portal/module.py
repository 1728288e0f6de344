"""Mobile account portal: subscribers see their own lines, bills and usage, change plan mid-cycle
and ask for a port-out code; support agents swap SIMs and port numbers out; the roaming partner
posts signed usage files; device manuals are fetched from the manufacturers' own sites."""
import hashlib
import hmac
import json
import math
import os
import secrets
import sqlite3
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

ROAMING_SECRET = os.environ["PORTAL_ROAMING_SECRET"]
SESSION_SECRET = os.environ["PORTAL_SESSION_SECRET"]
PORTAL_HOST = "my.telco.example"
MANUAL_HOSTS = frozenset({"support.handsetmaker.example", "docs.phonebrand.example"})
MAX_MANUAL_BYTES = 8_000_000
SESSION_TTL = 30 * 60
PORT_CODE_TTL = 30 * 86400
PAYMENT_TERMS_DAYS = 14
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PROFILE_FIELDS = {"display_name", "email", "contact_phone", "marketing_opt_in"}
USAGE_KINDS = ("data", "voice", "sms")
PLAN_PRICES = {"SIMO5": 800, "SIMO30": 1500, "UNLIMITED": 2500}
# Pence per unit abroad: data per MB, calls per started minute, texts per message.
ROAMING_RATES = {"eu": {"data": 0, "voice": 0, "sms": 0}, "world1": {"data": 20, "voice": 45, "sms": 15},
                 "world2": {"data": 60, "voice": 120, "sms": 30}}
LINE_COLUMNS = ("id", "account_id", "msisdn", "plan_code", "status", "nickname", "roaming_enabled")


@dataclass
class Actor:
    id: int
    is_staff: bool = False


def billable_units(record: dict) -> int:
    """Data in MB and texts per message; calls (recorded in seconds) per started minute."""
    if record["kind"] == "voice":
        return math.ceil(record["units"] / 60)
    return record["units"]


def consume_allowance(allowance: dict[str, int], records: list[dict]) -> dict[str, int]:
    """Draw home and EU usage from the bundle (in place); return the units beyond it, per kind."""
    over = {kind: 0 for kind in allowance}
    for record in records:
        if record["zone"] not in ("home", "eu"):
            continue
        units = billable_units(record)
        taken = min(units, allowance[record["kind"]])
        allowance[record["kind"]] -= taken
        over[record["kind"]] += units - taken
    return over


def roaming_charge(records: list[dict]) -> int:
    """Pence owed for usage outside home and the EU, at the rates of each zone."""
    total = 0
    for record in records:
        if record["zone"] == "home":
            continue
        rates = ROAMING_RATES.get(record["zone"])
        if rates is None:
            raise ValueError(f"unknown roaming zone {record['zone']!r}")
        total += billable_units(record) * rates[record["kind"]]
    return total


def prorated_change(old_pence: int, new_pence: int, change_day: int, days_in_cycle: int) -> int:
    """Pence due (negative: a credit) for switching plan on ``change_day`` (1 = first day of the cycle)."""
    if not 1 <= change_day <= days_in_cycle:
        raise ValueError("change day outside the billing cycle")
    remaining = days_in_cycle - change_day + 1
    return round((new_pence - old_pence) * remaining / days_in_cycle)


def due_date(issued: date) -> date:
    """Payment terms run from the bill date; a due date on a weekend moves to the Monday."""
    due = issued + timedelta(days=PAYMENT_TERMS_DAYS)
    while due.weekday() >= 5:
        due += timedelta(days=1)
    return due


def load_line(conn: sqlite3.Connection, line_id: int) -> dict:
    """Any line by id, for the agents' screens and internal steps (callers check access)."""
    row = conn.execute("SELECT id, account_id, msisdn, plan_code, status, nickname, roaming_enabled FROM lines WHERE id = ?", (line_id,)).fetchone()
    if row is None: raise LookupError(f"no line {line_id}")
    return dict(zip(LINE_COLUMNS, row))


def get_line(conn: sqlite3.Connection, actor: Actor, line_id: int) -> dict | None:
    row = conn.execute("SELECT id, account_id, msisdn, plan_code, status, nickname, roaming_enabled FROM lines WHERE id = ? AND account_id = ?", (line_id, actor.id)).fetchone()
    return None if row is None else dict(zip(LINE_COLUMNS, row))


def get_bill(conn: sqlite3.Connection, actor: Actor, bill_id: int) -> tuple | None:
    return conn.execute("SELECT period, total_pence, credit_pence, due FROM bills WHERE id = ? AND account_id = ?", (bill_id, actor.id)).fetchone()


def line_usage(conn: sqlite3.Connection, actor: Actor, line_id: int) -> list[dict]:
    rows = conn.execute("SELECT kind, units, zone FROM usage WHERE line_id = ? AND account_id = ?", (line_id, actor.id)).fetchall()
    return [{"kind": kind, "units": units, "zone": zone} for kind, units, zone in rows]


def update_profile(profiles: dict[int, dict], actor: Actor, changes: dict) -> dict:
    profile = profiles[actor.id]
    profile.update({k: v for k, v in changes.items() if k in PROFILE_FIELDS})
    return profile


def change_plan(conn: sqlite3.Connection, actor: Actor, line_id: int, plan_code: str, today: date, cycle_start: date, days_in_cycle: int) -> int:
    """Switch a line's plan now; the difference for the rest of the cycle goes on the next bill."""
    if plan_code not in PLAN_PRICES: raise ValueError(f"unknown plan {plan_code!r}")
    line = load_line(conn, line_id)
    due = prorated_change(PLAN_PRICES[line["plan_code"]], PLAN_PRICES[plan_code], (today - cycle_start).days + 1, days_in_cycle)
    if line["account_id"] != actor.id: raise PermissionError("not your line")
    conn.execute("UPDATE lines SET plan_code = ? WHERE id = ?", (plan_code, line_id))
    conn.execute("INSERT INTO adjustments (line_id, pence) VALUES (?, ?)", (line_id, due))
    return due


def request_port_code(conn: sqlite3.Connection, actor: Actor, line_id: int, now: float) -> str:
    """A one-time code the subscriber gives their new provider to take the number with them."""
    line = load_line(conn, line_id)
    if line["account_id"] != actor.id: raise PermissionError("only the account holder may leave with this number")
    conn.execute("DELETE FROM port_codes WHERE line_id = ?", (line_id,))
    code = "PAC" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
    conn.execute("INSERT INTO port_codes (line_id, code, issued_at, expires_at, used) VALUES (?, ?, ?, ?, 0)", (line_id, code, now, now + PORT_CODE_TTL))
    return code


def port_out(conn: sqlite3.Connection, actor: Actor, line_id: int, code: str, now: float) -> None:
    if not actor.is_staff: raise PermissionError("support agents only")
    row = conn.execute("SELECT code, issued_at, expires_at, used FROM port_codes WHERE line_id = ?", (line_id,)).fetchone()
    if row is None: raise ValueError("no port-out code for this line")
    pac = dict(zip(("code", "issued_at", "expires_at", "used"), row))
    if not hmac.compare_digest(pac["code"].encode(), code.encode()): raise ValueError("wrong port-out code")
    if pac["used"]: raise ValueError("port-out code already used")
    if pac["expires_at"] <= now: raise ValueError("port-out code expired")
    conn.execute("UPDATE port_codes SET used = 1 WHERE line_id = ?", (line_id,))
    conn.execute("UPDATE lines SET status = 'ported_out' WHERE id = ?", (line_id,))


def swap_sim(conn: sqlite3.Connection, actor: Actor, line_id: int, iccid: str) -> None:
    """Move a line to a new SIM card; a swap voids any pending port-out code."""
    if not (iccid.isdigit() and iccid.startswith("89") and len(iccid) in (19, 20)): raise ValueError("not an ICCID")
    if not actor.is_staff: raise PermissionError("SIM swaps are done by support agents")
    conn.execute("UPDATE lines SET iccid = ? WHERE id = ?", (iccid, line_id))
    conn.execute("DELETE FROM port_codes WHERE line_id = ?", (line_id,))


def sign(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def ingest_roaming(conn: sqlite3.Connection, body: str, signature: str) -> int:
    """The roaming partner's usage file: a signed JSON list of {msisdn, kind, units, zone}."""
    if not hmac.compare_digest(sign(body, ROAMING_SECRET), signature): raise ValueError("bad partner signature")
    stored = 0
    for record in json.loads(body):
        if record["kind"] not in USAGE_KINDS or record["zone"] not in ROAMING_RATES:
            raise ValueError(f"bad usage record {record!r}")
        stored += conn.execute("INSERT INTO usage (line_id, account_id, kind, units, zone) SELECT id, account_id, ?, ?, ? FROM lines WHERE msisdn = ?",
                               (record["kind"], int(record["units"]), record["zone"], record["msisdn"])).rowcount
    return stored


def issue_session(account_id: int, now: float) -> str:
    body = json.dumps({"sub": account_id, "issued_at": now, "exp": now + SESSION_TTL})
    return body + "." + sign(body, SESSION_SECRET)


def session_account(token: str, now: float) -> int | None:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(body, SESSION_SECRET), mac): return None
    claims = json.loads(body)
    if claims["exp"] <= now: return None
    return claims["sub"]


def after_login(target: str) -> str:
    target = target.replace("\\", "/")
    if urlsplit(target).scheme not in ("", "https"): return "/account"
    if urlsplit(target).netloc not in ("", PORTAL_HOST): return "/account"
    return target


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx becomes an HTTPError: a manufacturer's site cannot send us elsewhere


def _download(url: str) -> bytes:
    with urllib.request.build_opener(_NoRedirects).open(url, timeout=10) as response:
        return response.read(MAX_MANUAL_BYTES)


def fetch_manual(url: str) -> bytes:
    """A handset's PDF manual, from the manufacturer's site named in the device catalogue."""
    if urlsplit(url).scheme != "https": raise ValueError("manuals are fetched over https")
    if urlsplit(url).hostname not in MANUAL_HOSTS: raise ValueError("not a manufacturer's site")
    return _download(url)
