"""Sales report exporter: fixed SQL reports, CSV/HTML files and expiring download links."""

import csv
import html
import os
import random
import secrets
import sqlite3
import subprocess
import tempfile

BASE_DIR = os.environ.get("REPORT_EXPORT_DIR", "/srv/reports")
WEBHOOK_TOKEN = os.environ.get("REPORT_WEBHOOK_TOKEN", "")
LINK_TTL_SECONDS = 24 * 3600


def resolve_inside(base: str, name: str) -> str:
    """Absolute path of `name` under `base`; raises ValueError when it would escape `base`."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"path escapes the export directory: {name}")
    return path


def sales_by_region(conn: sqlite3.Connection, start: str, end: str) -> list[tuple[str, int]]:
    """Total cents per region for orders placed from `start` to `end` inclusive."""
    cur = conn.cursor()
    cur.execute("SELECT region, cents FROM orders WHERE day >= ? AND day <= ?", (start, end))
    totals: dict[str, int] = {}
    for region, cents in cur.fetchall():
        totals[region] = totals.get(region, 0) + cents
    return sorted(totals.items())


def render_html(title: str, rows: list[tuple[str, int]], author: str) -> str:
    """Standalone HTML page for a region report with a grand total row."""
    parts = [f"<h1>{html.escape(title)}</h1>", "<table>"]
    total = 0
    for region, cents in rows:
        parts.append(f"<tr><td>{html.escape(region)}</td><td>{cents / 100:.2f}</td></tr>")
        total += cents
    parts.append(f"<tr><th>Total</th><td>{total / 100:.2f}</td></tr></table>")
    parts.append(f"<footer>Prepared by {html.escape(author)}</footer>")
    return "\n".join(parts)


def write_csv(filename: str, header: list[str], rows: list[tuple]) -> str:
    """Writes a CSV export under BASE_DIR and returns its path."""
    path = resolve_inside(BASE_DIR, filename)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def read_export(filename: str) -> bytes:
    """Raw bytes of an export, for the download endpoint."""
    path = resolve_inside(BASE_DIR, filename)
    with open(path, "rb") as handle:
        return handle.read()


def compress_export(filename: str) -> str:
    """Gzips an export (keeping the original) and returns the archive path."""
    path = resolve_inside(BASE_DIR, filename)
    subprocess.run(["gzip", "--keep", "--force", path], check=True)
    return path + ".gz"


def stage_attachment(rows: list[tuple]) -> str:
    """Writes rows to a private temporary CSV for the mailer; returns the file path."""
    fd, tmp_path = tempfile.mkstemp(suffix=".csv")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return tmp_path


class DownloadLinks:
    """Expiring download tokens stored in the `downloads` table."""
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def create(self, name: str, owner: str, now: int) -> str:
        token = secrets.token_urlsafe(24)
        expires = now + LINK_TTL_SECONDS
        cur = self.conn.cursor()
        cur.execute("INSERT INTO downloads VALUES (?, ?, ?, ?)", (token, name, owner, expires))
        return f"/downloads/{token}"

    def resolve(self, token: str, now: int) -> str | None:
        """Path of the file behind a token, or None when unknown or expired."""
        cur = self.conn.cursor()
        cur.execute("SELECT filename, expires FROM downloads WHERE token = ?", (token,))
        row = cur.fetchone()
        if row is None or row[1] <= now:
            return None
        path = resolve_inside(BASE_DIR, row[0])
        return path

    def purge_owner(self, user, owner: str) -> int:
        """Admin tool: deletes every link of one owner and returns how many were removed."""
        if not user.is_admin: raise PermissionError("admin only")
        cur = self.conn.cursor()
        cur.execute("DELETE FROM downloads WHERE owner = ?", (owner,))
        return cur.rowcount


def preview_sample(rows: list, k: int, seed: int | None = None) -> list:
    """A few random rows for the report editor preview (not security relevant)."""
    if len(rows) <= k:
        return list(rows)
    return random.Random(seed).sample(rows, k)


def notify_dashboard(url: str, report: str) -> int:
    """Tells the dashboard that a report is ready; returns the HTTP status code."""
    import requests
    body = {"report": report, "token": WEBHOOK_TOKEN}
    response = requests.post(url, json=body, timeout=10)
    return response.status_code
