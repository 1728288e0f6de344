import os
import random
import sqlite3
from types import SimpleNamespace

import pytest

import module as m

FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel>
  <title>Example</title>
  <item><title> First </title><link>https://example.com/1</link><guid>id-1</guid></item>
  <item><title>Second</title><link>https://example.com/2</link></item>
</channel></rss>"""

OPML = """<opml version="2.0">
  <head><ownerName> Ann </ownerName></head>
  <body>
    <outline text="News">
      <outline title="Example" xmlUrl="https://example.com/rss"/>
      <outline xmlUrl="https://blog.example/feed"/>
    </outline>
    <outline title="Broken"/>
  </body>
</opml>"""


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE items (guid TEXT, feed_id INTEGER, title TEXT, link TEXT, seen INTEGER)")
    yield conn
    conn.close()


def many_items(count):
    body = "".join(f"<item><title>T{i}</title><link>L{i}</link></item>" for i in range(count))
    return f"<rss><channel>{body}</channel></rss>"


def test_resolve_inside(tmp_path):
    root = os.path.realpath(tmp_path)
    assert m.resolve_inside(str(tmp_path), "a.xml") == os.path.join(root, "a.xml")
    with pytest.raises(ValueError):
        m.resolve_inside(str(tmp_path / "c"), "../a.xml")


def test_parse_feed():
    assert m.parse_feed(FEED) == [
        {"title": "First", "link": "https://example.com/1", "guid": "id-1"},
        {"title": "Second", "link": "https://example.com/2", "guid": "https://example.com/2"},
    ]
    assert m.parse_feed("<rss><channel/></rss>") == []


def test_parse_feed_limit():
    items = m.parse_feed(many_items(60))
    assert len(items) == 50 and items[0]["title"] == "T0" and items[-1]["title"] == "T49"
    assert len(m.parse_feed(many_items(3))) == 3


def test_parse_opml():
    assert m.parse_opml(OPML) == {"owner": "Ann", "feeds": [
        ("Example", "https://example.com/rss"), ("https://blog.example/feed", "https://blog.example/feed")]}
    assert m.parse_opml("<opml/>") == {"owner": "", "feeds": []}


def test_store_items(db):
    items = m.parse_feed(FEED)
    assert m.store_items(db, 1, items) == 2
    assert m.store_items(db, 1, items) == 0
    more = [{"guid": "id-1", "title": "x", "link": "y"}, {"guid": "id-3", "title": "Third", "link": "L3"}]
    assert m.store_items(db, 2, more) == 1
    rows = db.execute("SELECT guid, feed_id, title, link, seen FROM items ORDER BY rowid").fetchall()
    assert rows == [("id-1", 1, "First", "https://example.com/1", 0),
                    ("https://example.com/2", 1, "Second", "https://example.com/2", 0),
                    ("id-3", 2, "Third", "L3", 0)]
    assert m.store_items(db, 1, []) == 0


def test_unread_and_mark_read(db):
    m.store_items(db, 1, m.parse_feed(FEED))
    m.store_items(db, 2, [{"guid": "g", "title": "Other", "link": "L"}])
    assert m.unread(db, 1) == [("First", "https://example.com/1"), ("Second", "https://example.com/2")]
    m.mark_read(db, "id-1")
    assert m.unread(db, 1) == [("Second", "https://example.com/2")]
    assert m.unread(db, 2) == [("Other", "L")]
    assert m.unread(db, 3) == []


def test_remove_feed(db):
    m.store_items(db, 1, m.parse_feed(FEED))
    m.store_items(db, 2, [{"guid": "g", "title": "Other", "link": "L"}])
    with pytest.raises(PermissionError):
        m.remove_feed(db, SimpleNamespace(is_admin=False), 1)
    assert m.remove_feed(db, SimpleNamespace(is_admin=True), 1) == 2
    assert m.remove_feed(db, SimpleNamespace(is_admin=True), 1) == 0
    assert m.unread(db, 2) == [("Other", "L")]


def test_fetch(monkeypatch):
    import requests

    calls = []

    def fake_get(url, **kwargs):
        calls.append((url, kwargs))
        return SimpleNamespace(status_code=200 if url.endswith("ok") else 304, text="<rss/>")

    monkeypatch.setattr(requests, "get", fake_get)
    monkeypatch.setattr(m, "HUB_TOKEN", "hub-1")
    assert m.fetch("https://hub.example/ok") == "<rss/>"
    assert m.fetch("https://hub.example/unchanged") == ""
    assert calls[0] == ("https://hub.example/ok", {"headers": {"Authorization": "Bearer hub-1"}, "timeout": 10})


def test_private_feed_token():
    token = m.private_feed_token()
    assert len(token) == 24 and token != m.private_feed_token()


def test_next_poll():
    assert m.next_poll(600, random.Random(2)) == 600 * (1 + random.Random(2).random() / 10)
    for _ in range(20):
        assert 300 <= m.next_poll(300) <= 330


def test_cache_path(tmp_path, monkeypatch):
    monkeypatch.setattr(m, "CACHE_DIR", str(tmp_path))
    assert m.cache_path("feed-1.xml") == os.path.join(os.path.realpath(tmp_path), "feed-1.xml")
    with pytest.raises(ValueError):
        m.cache_path("../../etc/passwd")


def test_export_archive(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(m, "CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(m.subprocess, "run", lambda argv, **kwargs: calls.append((argv, kwargs)))
    target = os.path.join(os.path.realpath(tmp_path), "backup.tar.gz")
    assert m.export_archive("backup") == target
    assert calls == [(["tar", "-czf", target, "--exclude", "*.tar.gz", "-C", str(tmp_path), "."], {"check": True})]
    with pytest.raises(ValueError):
        m.export_archive("../outside")
    assert len(calls) == 1


def test_render_items():
    page = m.render_items([("A & B", "https://example.com/?a=1&b=2"), ("<i>x</i>", 'https://x.example/"')])
    assert page == ('<ul><li><a href="https://example.com/?a=1&amp;b=2">A &amp; B</a></li>'
                    '<li><a href="https://x.example/&quot;">&lt;i&gt;x&lt;/i&gt;</a></li></ul>')
    assert m.render_items([]) == "<ul></ul>"
    # a feed's javascript: or data: link is not made a link
    assert m.render_items([("x", "javascript:alert(1)"), ("y", "data:text/html,hi"), ("z", "HTTP://a.example/")]) == (
        '<ul><li><a href="#">x</a></li><li><a href="#">y</a></li><li><a href="HTTP://a.example/">z</a></li></ul>')
