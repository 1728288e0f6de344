"""Tenant maintenance portal: tenants raise repair requests for their unit with photos from the landlord's
CDN, managers assign them to contractors, contractors close their jobs, late jobs earn a rent credit."""
import calendar
import logging
import os
import re
import sqlite3
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

audit = logging.getLogger("maintenance.audit")

PHOTO_HOSTS = frozenset({"photos.landlord-cdn.example", "img.landlord-cdn.example"})
OWN_HOST = "portal.landlord.example"
CACHE_ROOT = os.path.realpath(os.environ.get("ATTACHMENT_CACHE", "/var/cache/maintenance"))
MAX_PHOTO_BYTES = 8_000_000
PHOTO_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
SLA_HOURS = {"emergency": 4}
SLA_BUSINESS_DAYS = {"urgent": 2, "routine": 10}
MAX_CREDIT_SHARE = 0.5  # of a month's rent, per job


@dataclass
class Actor:
    id: int
    is_manager: bool = False
    is_active: bool = True


def is_business_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in holidays


def business_days_between(start: date, end: date, holidays: frozenset[date] = frozenset()) -> int:
    """Business days after ``start`` up to and including ``end`` (0 when ``end`` is not later)."""
    return sum(1 for offset in range(1, (end - start).days + 1) if is_business_day(start + timedelta(days=offset), holidays))


def sla_deadline(raised_at: datetime, priority: str, holidays: frozenset[date] = frozenset()) -> datetime:
    """Emergencies are due within hours; other priorities by close of business N business days on."""
    if priority in SLA_HOURS:
        return raised_at + timedelta(hours=SLA_HOURS[priority])
    day, remaining = raised_at.date(), SLA_BUSINESS_DAYS[priority]
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            remaining -= 1
    return datetime.combine(day, time(17, 0))  # close of business


def rent_credit_cents(monthly_rent_cents: int, late_days: int, days_in_month: int, priority: str) -> int:
    """A day's rent per business day late (two for emergencies), capped at MAX_CREDIT_SHARE of the rent."""
    if late_days <= 0:
        return 0
    per_day = monthly_rent_cents // days_in_month
    if priority in SLA_HOURS:
        per_day *= 2
    return min(per_day * late_days, int(monthly_rent_cents * MAX_CREDIT_SHARE))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect becomes an HTTPError: the CDN cannot send us to another host


_FETCHER = urllib.request.build_opener(_NoRedirect)


def _download(url: str, limit: int) -> bytes:
    with _FETCHER.open(url, timeout=10) as response:
        return response.read(limit + 1)


def import_photo(url: str) -> bytes:
    if urlsplit(url).hostname not in PHOTO_HOSTS:
        audit.warning("photo import refused for %r: not a CDN host", url)
        raise ValueError("photos are imported from the landlord's CDN only")
    if urlsplit(url).scheme != "https": raise ValueError("photos are fetched over https only")
    data = _download(url, MAX_PHOTO_BYTES)
    if len(data) > MAX_PHOTO_BYTES: raise ValueError("photo too large")
    if not data.startswith(PHOTO_MAGIC): raise ValueError("not a JPEG/PNG photo")
    return data


def cache_path(request_id: int, name: str) -> str:
    folder = os.path.join(CACHE_ROOT, str(request_id))
    candidate = os.path.join(folder, name)
    if not os.path.realpath(candidate).startswith(folder + os.sep):
        audit.warning("attachment name %r refused for request %s", name, request_id)
        raise ValueError("attachment name escapes the request's folder")
    return candidate


def get_request(conn: sqlite3.Connection, actor: Actor, request_id: int) -> tuple | None:
    return conn.execute("SELECT id, unit_id, title, priority, status FROM requests WHERE id = ? AND tenant_id = ?", (request_id, actor.id)).fetchone()


def raise_request(conn: sqlite3.Connection, actor: Actor, unit_id: int, title: str, priority: str, now: datetime) -> int:
    lease = conn.execute("SELECT id FROM leases WHERE unit_id = ? AND tenant_id = ?", (unit_id, actor.id)).fetchone()
    if lease is None: raise PermissionError("requests can be raised for your own unit only")
    if priority not in SLA_HOURS and priority not in SLA_BUSINESS_DAYS: raise ValueError(f"unknown priority {priority!r}")
    cursor = conn.execute("INSERT INTO requests (unit_id, tenant_id, title, priority, status, raised_at) VALUES (?, ?, ?, ?, 'open', ?)", (unit_id, actor.id, title, priority, now.isoformat()))
    audit.info("tenant %s raised request %s: %r", actor.id, cursor.lastrowid, title)
    return cursor.lastrowid


def attach_photo(conn: sqlite3.Connection, actor: Actor, request_id: int, url: str) -> str:
    if get_request(conn, actor, request_id) is None: raise LookupError(f"no request {request_id}")
    path = cache_path(request_id, os.path.basename(urlsplit(url).path))
    data = import_photo(url)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def read_attachment(conn: sqlite3.Connection, actor: Actor, request_id: int, name: str) -> bytes:
    if get_request(conn, actor, request_id) is None: raise LookupError(f"no request {request_id}")
    folder = os.path.join(CACHE_ROOT, str(request_id))
    path = os.path.realpath(os.path.join(folder, name))
    if os.path.commonpath([folder, path]) != folder:
        audit.warning("attachment read %r refused for tenant %s", name, actor.id)
        raise ValueError("outside the request's attachments")
    with open(path, "rb") as handle:
        return handle.read()


def search_requests(conn: sqlite3.Connection, actor: Actor, query: str) -> list[tuple[int, str]]:
    pattern = re.compile("|".join(re.escape(word) for word in query.split()), re.IGNORECASE)
    rows = conn.execute("SELECT id, title FROM requests WHERE tenant_id = ? ORDER BY id DESC", (actor.id,)).fetchall()
    return [row for row in rows if query.strip() and pattern.search(row[1])]


def assign_job(conn: sqlite3.Connection, actor: Actor, request_id: int, contractor_id: int, holidays: frozenset[date] = frozenset()) -> datetime:
    if not actor.is_manager: raise PermissionError("property managers only")
    row = conn.execute("SELECT priority, raised_at FROM requests WHERE id = ? AND status = 'open'", (request_id,)).fetchone()
    if row is None: raise ValueError("only open requests can be assigned")
    due = sla_deadline(datetime.fromisoformat(row[1]), row[0], holidays)
    conn.execute("INSERT INTO jobs (request_id, contractor_id, due, status) VALUES (?, ?, ?, 'assigned')", (request_id, contractor_id, due.isoformat()))
    conn.execute("UPDATE requests SET status = 'assigned' WHERE id = ?", (request_id,))
    return due


def contractor_jobs(conn: sqlite3.Connection, actor: Actor, status: str = "assigned") -> list[tuple]:
    return conn.execute("SELECT id, request_id, due FROM jobs WHERE status = ? AND contractor_id = ? ORDER BY due", (status, actor.id)).fetchall()


def close_job(conn: sqlite3.Connection, actor: Actor, job_id: int, note: str, closed_at: datetime, holidays: frozenset[date] = frozenset()) -> int:
    job = conn.execute("SELECT request_id, due FROM jobs WHERE id = ? AND status = 'assigned' AND contractor_id = ?", (job_id, actor.id)).fetchone()
    if job is None: raise LookupError(f"no open job {job_id} of yours")
    rent, tenant_id, priority = conn.execute("SELECT u.rent_cents, r.tenant_id, r.priority FROM requests r JOIN units u ON u.id = r.unit_id WHERE r.id = ?", (job[0],)).fetchone()
    late = business_days_between(datetime.fromisoformat(job[1]).date(), closed_at.date(), holidays)
    credit = rent_credit_cents(rent, late, calendar.monthrange(closed_at.year, closed_at.month)[1], priority)
    conn.execute("UPDATE jobs SET status = 'closed', closed_at = ?, credit_cents = ? WHERE id = ?", (closed_at.isoformat(), credit, job_id))
    conn.execute("UPDATE requests SET status = 'closed' WHERE id = ?", (job[0],))
    audit.info("contractor %s closed job %s (credit %s to tenant %s): %r", actor.id, job_id, credit, tenant_id, note)
    return credit


def post_login_redirect(next_url: str, username: str) -> str:
    """Where to send a user after signing in: a path, or an https URL of the portal itself."""
    target = next_url.strip().replace("\\", "/")
    if urlsplit(target).netloc not in ("", OWN_HOST):
        audit.warning("post-login redirect to %r refused for %r", target, username)
        return "/requests"
    if urlsplit(target).scheme not in ("", "https"):
        return "/requests"
    return target
