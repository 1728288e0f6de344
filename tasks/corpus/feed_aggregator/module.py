"""Feed aggregator: RSS feeds and OPML subscription lists, stored items and a reading page."""

import html
import os
import random
import secrets
import sqlite3
import subprocess
import xml.sax
from xml.dom import minidom
from xml.sax.handler import feature_external_ges

CACHE_DIR = os.environ.get("FEEDS_CACHE_DIR", "/var/cache/feeds")
HUB_TOKEN = os.environ.get("FEEDS_HUB_TOKEN", "")
MAX_ITEMS = 50

def resolve_inside(base: str, name: str) -> str:
    """Absolute path of `name` inside `base`; ValueError when it would leave `base`."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"cache path outside {base}: {name}")
    return path

def child_text(node, tag: str) -> str:
    found = node.getElementsByTagName(tag)
    return "".join(n.data for n in found[0].childNodes if n.nodeType == n.TEXT_NODE).strip() if found else ""

def parse_feed(text: str) -> list[dict]:
    """Items of an RSS feed (title, link, guid defaulting to the link), at most MAX_ITEMS."""
    feed_parser = xml.sax.make_parser()
    feed_parser.setFeature(feature_external_ges, False)
    channel = minidom.parseString(text, feed_parser).documentElement
    items = []
    for node in channel.getElementsByTagName("item")[:MAX_ITEMS]:
        link = child_text(node, "link")
        items.append({"title": child_text(node, "title"), "link": link, "guid": child_text(node, "guid") or link})
    return items

def parse_opml(text: str) -> dict:
    """Owner and (title, feed URL) subscriptions of an OPML export; outlines without a URL are folders."""
    opml_parser = xml.sax.make_parser()
    opml_parser.setFeature(feature_external_ges, False)
    root = minidom.parseString(text, opml_parser).documentElement
    feeds = []
    for outline in root.getElementsByTagName("outline"):
        url = outline.getAttribute("xmlUrl")
        if not url:
            continue
        feeds.append((outline.getAttribute("title") or url, url))
    return {"owner": child_text(root, "ownerName"), "feeds": feeds}

def store_items(db: sqlite3.Connection, feed_id: int, items: list[dict]) -> int:
    """Saves the items not seen before (by guid); returns how many were new."""
    added = 0
    for item in items:
        guid = item["guid"]
        cur = db.execute("SELECT 1 FROM items WHERE guid = ?", (guid,))
        if cur.fetchone() is not None:
            continue
        db.execute("INSERT INTO items VALUES (?, ?, ?, ?, 0)", (guid, feed_id, item["title"], item["link"]))
        added += 1
    return added

def mark_read(db: sqlite3.Connection, guid: str) -> None:
    db.execute("UPDATE items SET seen = 1 WHERE guid = ?", (guid,))

def unread(db: sqlite3.Connection, feed_id: int) -> list[tuple[str, str]]:
    cur = db.execute("SELECT title, link FROM items WHERE feed_id = ? AND seen = 0 ORDER BY rowid", (feed_id,))
    return cur.fetchall()

def remove_feed(db: sqlite3.Connection, user, feed_id: int) -> int:
    if not user.is_admin: raise PermissionError("admin only")
    cur = db.execute("DELETE FROM items WHERE feed_id = ?", (feed_id,))
    return cur.rowcount

def fetch(url: str) -> str:
    """Body of a feed, fetched through the hub; an empty string unless the hub answers 200."""
    import requests
    response = requests.get(url, headers={"Authorization": f"Bearer {HUB_TOKEN}"}, timeout=10)
    return response.text if response.status_code == 200 else ""

def private_feed_token() -> str:
    """Unguessable part of a private feed URL."""
    return secrets.token_urlsafe(18)

def next_poll(interval: int, rng: random.Random | None = None) -> float:
    """Seconds until a feed is polled again, spread by up to 10% so polls do not bunch up."""
    return interval * (1 + (rng or random.Random()).random() / 10)

def cache_path(name: str) -> str:
    return resolve_inside(CACHE_DIR, name)

def export_archive(name: str) -> str:
    """Packs the cached feeds into CACHE_DIR/<name>.tar.gz for backups."""
    target = resolve_inside(CACHE_DIR, f"{name}.tar.gz")
    subprocess.run(["tar", "-czf", target, "--exclude", "*.tar.gz", "-C", CACHE_DIR, "."], check=True)
    return target

def render_items(items: list[tuple[str, str]]) -> str:
    """Reading list as HTML; titles and links come from the feeds (other schemes link nowhere)."""
    rows = []
    for title, link in items:
        href = link if link.lower().startswith(("https://", "http://")) else "#"
        anchor = f'<a href="{html.escape(href)}">'
        rows.append(f"<li>{anchor}{html.escape(title)}</a></li>")
    return "<ul>" + "".join(rows) + "</ul>"
