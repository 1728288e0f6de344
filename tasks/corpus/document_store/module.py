"""Document store: per-owner uploads, downloads, HTML listings, share links and archives."""

import hashlib
import html
import os
import random
import secrets
import sqlite3
import subprocess
import tempfile

BASE_DIR = os.environ.get("DOCSTORE_ROOT", "/srv/docstore")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SHARE_TTL_SECONDS = 7 * 24 * 3600
SCHEMA = """CREATE TABLE IF NOT EXISTS docs (owner TEXT, name TEXT, size INTEGER, sha256 TEXT,
    PRIMARY KEY (owner, name));
CREATE TABLE IF NOT EXISTS shares (token TEXT PRIMARY KEY, owner TEXT, name TEXT, expires REAL);"""


def open_db(path: str = ":memory:") -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    return db


def resolve_inside(base: str, name: str) -> str:
    """Real path of name under base; raises ValueError when it would escape base."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"unsafe file name {name!r}")
    return path


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_upload(db: sqlite3.Connection, owner: str, name: str, data: bytes) -> str:
    """Store a new file in the owner's folder and return its SHA-256 checksum."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError("file too large")
    relative = os.path.join(owner, name)
    path = resolve_inside(BASE_DIR, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "xb") as handle:
        handle.write(data)
    size, digest = len(data), checksum(data)
    db.execute("INSERT INTO docs VALUES (?, ?, ?, ?)", (owner, name, size, digest))
    return digest


def read_document(owner: str, name: str) -> bytes:
    relative = os.path.join(owner, name)
    path = resolve_inside(BASE_DIR, relative)
    with open(path, "rb") as handle:
        return handle.read()


def list_documents(db: sqlite3.Connection, owner: str) -> list[tuple[str, int, str]]:
    cur = db.execute("SELECT name, size, sha256 FROM docs WHERE owner = ? ORDER BY name", (owner,))
    return cur.fetchall()


def render_listing(owner: str, rows: list[tuple[str, int, str]]) -> str:
    """HTML list of documents with sizes in KiB (rounded up) and short checksums."""
    items = []
    for name, size, digest in rows:
        kib = (size + 1023) // 1024
        short = html.escape(digest[:12])
        items.append(f"<li>{html.escape(name)} ({kib} KiB) <code>{short}</code></li>")
    heading = f"<h2>Documents of {html.escape(owner)}</h2>"
    return heading + "<ul>" + "".join(items) + "</ul>"


def create_share(db: sqlite3.Connection, owner: str, name: str, now: float) -> str:
    """Create a week-long share link token for one of the owner's documents."""
    token, expires = secrets.token_urlsafe(24), now + SHARE_TTL_SECONDS
    db.execute("INSERT INTO shares VALUES (?, ?, ?, ?)", (token, owner, name, expires))
    return token


def open_share(db: sqlite3.Connection, token: str, now: float) -> bytes | None:
    cur = db.execute("SELECT owner, name, expires FROM shares WHERE token = ?", (token,))
    row = cur.fetchone()
    if row is None or now >= row[2]:
        return None
    return read_document(row[0], row[1])


def spot_check(db: sqlite3.Connection, owner: str, k: int = 3, rng=None) -> list[str]:
    """Re-hash a random sample of an owner's files; return names whose content changed."""
    rows = db.execute("SELECT name, sha256 FROM docs WHERE owner = ?", (owner,)).fetchall()
    picked = (rng or random.Random()).sample(rows, min(k, len(rows)))
    return sorted(n for n, digest in picked if checksum(read_document(owner, n)) != digest)


def export_archive(user, owner: str) -> str:
    """Pack an owner's folder into a private temporary .tar.gz and return its path."""
    if not user.is_admin: raise PermissionError("admin only")
    folder = resolve_inside(BASE_DIR, owner)
    fd, archive = tempfile.mkstemp(suffix=".tar.gz")
    os.close(fd)
    subprocess.run(["tar", "-czf", archive, folder], check=True)
    return archive


def purge_owner(db: sqlite3.Connection, user, owner: str) -> int:
    """Delete an owner's records and share links; returns how many documents were removed."""
    if not user.is_admin: raise PermissionError("admin only")
    db.execute("DELETE FROM shares WHERE owner = ?", (owner,))
    return db.execute("DELETE FROM docs WHERE owner = ?", (owner,)).rowcount
