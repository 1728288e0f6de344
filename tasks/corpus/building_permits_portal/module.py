"""Building permits portal: applicants' own applications, signed fee receipts, planning decisions, inspections, document links."""
import base64
import hashlib
import hmac
import json
import logging
import math
import os
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

audit = logging.getLogger("permits.audit")
RECEIPT_SECRET = os.environ["PERMITS_RECEIPT_SECRET"]
LINK_SECRET = os.environ["PERMITS_LINK_SECRET"]
PORTAL_HOST = "permits.council.example"
GIS_HOSTS = frozenset({"gis.council.example", "maps.landregistry.example"})
LINK_TTL = 15 * 60
APPLICANT_FIELDS = {"description", "site_address", "floor_area_m2"}
APPLICATION_COLUMNS = ("id", "account_id", "kind", "description", "site_address", "floor_area_m2", "fee_pence", "status")
FEE_BANDS = ((40, 25_800), (100, 46_200), (250, 62_400))  # (largest floor area in m2, fee in pence)
LARGE_STEP = (50, 9_600)  # past the last band: (m2, pence) added per started step
DECISION_WORKING_DAYS = {"householder": 40, "minor": 40, "major": 65}
INSPECTION_STAGES = ("foundations", "drainage", "structure", "insulation", "completion")
PERMIT_VALID_DAYS = 3 * 365
EXTENSION_DAYS = 365
MAX_EXTENSIONS = 2
EXTENSION_WINDOW_DAYS = 90


@dataclass
class Actor:
    id: int
    is_staff: bool = False  # building control: site inspectors
    is_approver: bool = False  # planning officers


def permit_fee(floor_area_m2: float, resubmission: bool = False) -> int:
    """Fee in pence by floor-area band; a resubmission after a refusal pays half."""
    if floor_area_m2 <= 0: raise ValueError("floor area must be positive")
    for largest, fee in FEE_BANDS:
        if floor_area_m2 <= largest:
            break
    else:
        steps = math.ceil((floor_area_m2 - FEE_BANDS[-1][0]) / LARGE_STEP[0])
        fee = FEE_BANDS[-1][1] + steps * LARGE_STEP[1]
    return fee // 2 if resubmission else fee


def decision_deadline(received: date, kind: str, holidays: frozenset[date] = frozenset(), agreed_extra_days: int = 0) -> date:
    """Statutory decision date: working days (no weekends or public holidays) from a paid application."""
    current, remaining = received, DECISION_WORKING_DAYS[kind] + agreed_extra_days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() >= 5 or current in holidays:
            continue
        remaining -= 1
    return current


def next_stage(passed: set[str], not_required: frozenset[str] = frozenset()) -> str | None:
    """The first inspection in sequence not yet passed (a failed stage is inspected again)."""
    for stage in INSPECTION_STAGES:
        if stage in passed or stage in not_required:
            continue
        return stage
    return None


def extended_expiry(approved_on: date, extensions: int, today: date) -> date | None:
    """The new expiry if an extension may be granted today (only in the last EXTENSION_WINDOW_DAYS)."""
    if extensions >= MAX_EXTENSIONS:
        return None
    expiry = approved_on + timedelta(days=PERMIT_VALID_DAYS + extensions * EXTENSION_DAYS)
    if not expiry - timedelta(days=EXTENSION_WINDOW_DAYS) <= today < expiry:
        return None
    return expiry + timedelta(days=EXTENSION_DAYS)


def load_application(conn: sqlite3.Connection, app_id: int) -> dict:
    row = conn.execute("SELECT id, account_id, kind, description, site_address, floor_area_m2, fee_pence, status FROM applications WHERE id = ?", (app_id,)).fetchone()
    if row is None: raise LookupError(f"no application {app_id}")
    return dict(zip(APPLICATION_COLUMNS, row))


def get_application(conn: sqlite3.Connection, actor: Actor, app_id: int) -> dict | None:
    row = conn.execute("SELECT id, account_id, kind, description, site_address, floor_area_m2, fee_pence, status FROM applications WHERE id = ? AND account_id = ?", (app_id, actor.id)).fetchone()
    return None if row is None else dict(zip(APPLICATION_COLUMNS, row))


def amend_application(conn: sqlite3.Connection, actor: Actor, app_id: int, changes: dict) -> dict:
    application = load_application(conn, app_id)
    if application["account_id"] != actor.id: raise PermissionError("not your application")
    if application["status"] != "awaiting_fee": raise ValueError("only unpaid applications can be amended")
    application.update({k: v for k, v in changes.items() if k in APPLICANT_FIELDS})
    application["fee_pence"] = permit_fee(application["floor_area_m2"])
    conn.execute("UPDATE applications SET description = ?, site_address = ?, floor_area_m2 = ?, fee_pence = ?, status = ? WHERE id = ?",
                 (application["description"], application["site_address"], application["floor_area_m2"], application["fee_pence"], application["status"], app_id))
    audit.info("application %d amended by account %d: %r", app_id, actor.id, application["description"])
    return application


def withdraw_application(conn: sqlite3.Connection, actor: Actor, app_id: int, reason: str) -> bool:
    application = load_application(conn, app_id)
    if application["account_id"] != actor.id: raise PermissionError("not your application")
    withdrawn = conn.execute("UPDATE applications SET status = 'withdrawn' WHERE id = ? AND status IN ('awaiting_fee', 'received')", (app_id,)).rowcount == 1
    audit.info("application %d withdrawal by account %d (done: %s), reason %r", app_id, actor.id, withdrawn, reason)
    return withdrawn


def sign(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def record_fee_receipt(conn: sqlite3.Connection, body: str, signature: str, received: date) -> int:
    """The payment gateway's signed receipt: {"application_id", "amount_pence", "reference"}."""
    if not hmac.compare_digest(sign(body, RECEIPT_SECRET), signature): raise ValueError("bad gateway signature")
    receipt = json.loads(body)
    row = conn.execute("SELECT fee_pence FROM applications WHERE id = ? AND status = 'awaiting_fee'", (receipt["application_id"],)).fetchone()
    if row is None or receipt["amount_pence"] < row[0]: raise ValueError("no application awaiting this fee, or underpaid")
    conn.execute("UPDATE applications SET status = 'received', received_on = ?, payment_ref = ? WHERE id = ?", (received.isoformat(), receipt["reference"], receipt["application_id"]))
    return receipt["application_id"]


def decide_application(conn: sqlite3.Connection, actor: Actor, app_id: int, approve: bool, today: date) -> str:
    status = "approved" if approve else "refused"
    if not actor.is_approver: raise PermissionError("planning officers only")
    changed = conn.execute("UPDATE applications SET status = ?, decided_on = ?, officer_id = ? WHERE id = ? AND status = 'received'", (status, today.isoformat(), actor.id, app_id)).rowcount
    if not changed: raise ValueError("only received applications can be decided")
    return status


def record_inspection(conn: sqlite3.Connection, actor: Actor, app_id: int, stage: str, passed: bool, on: date) -> str | None:
    """Record a site visit in sequence; returns the stage to book next (None once completed)."""
    if not actor.is_staff: raise PermissionError("building inspectors only")
    done = {name for (name,) in conn.execute("SELECT stage FROM inspections WHERE application_id = ? AND passed = 1", (app_id,))}
    expected = next_stage(done)
    if stage != expected: raise ValueError(f"the next inspection is {expected}")
    conn.execute("INSERT INTO inspections VALUES (?, ?, ?, ?, ?)", (app_id, stage, int(passed), actor.id, on.isoformat()))
    return next_stage(done | {stage} if passed else done)


def document_link(conn: sqlite3.Connection, actor: Actor, app_id: int, name: str, now: float) -> str:
    names = {doc for (doc,) in conn.execute("SELECT name FROM documents WHERE application_id = ? AND account_id = ?", (app_id, actor.id))}
    if name not in names: raise LookupError(f"no document {name!r}")
    body = base64.urlsafe_b64encode(json.dumps({"app": app_id, "doc": name, "iat": now, "exp": now + LINK_TTL}).encode()).decode()
    audit.info("download link for %r of application %d issued to account %d", name, app_id, actor.id)
    return f"/documents/download?token={body}.{sign(body, LINK_SECRET)}"


def open_document_link(token: str, now: float) -> tuple[int, str]:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(body, LINK_SECRET), mac): raise PermissionError("bad link signature")
    claims = json.loads(base64.urlsafe_b64decode(body))
    if claims["exp"] <= now: raise PermissionError("download link expired")
    return claims["app"], claims["doc"]


def fetch_site_plan(url: str, http_get) -> bytes:  # http_get: the portal's client, which follows no redirects
    if urlsplit(url).scheme != "https": raise ValueError("site plans are fetched over https")
    if urlsplit(url).hostname not in GIS_HOSTS: raise ValueError("not a map service host")
    return http_get(url)


def after_login(target: str) -> str:
    target = target.replace("\\", "/")
    if urlsplit(target).scheme not in ("", "https"): return "/applications"
    if urlsplit(target).netloc not in ("", PORTAL_HOST): return "/applications"
    return target
