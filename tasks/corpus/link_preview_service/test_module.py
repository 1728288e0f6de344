import json
import logging
import os

import pytest

import module as m


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = os.path.realpath(tmp_path / "previews")
    os.makedirs(root)
    monkeypatch.setattr(m, "CACHE_ROOT", root)
    return root


@pytest.fixture
def fetched(monkeypatch):
    urls = []

    def fake_download(url, limit=m.MAX_BYTES):
        urls.append((url, limit))
        return b"<html><head><title>\n  Quarterly   report </title></head></html>"

    monkeypatch.setattr(m, "_download", fake_download)
    return urls


def test_parse_title_collapses_whitespace_and_cuts():
    assert m.parse_title("<TITLE>  a \n b </TITLE>") == "a b"
    assert m.parse_title("<p>no title</p>") == ""
    assert m.parse_title("<title>abcdef</title>", width=6) == "abcdef"
    assert m.parse_title("<title>abcdefg</title>", width=6) == "abcde…"


def test_fit_box_scales_down_only():
    assert m.fit_box(1024, 512, 256) == (256, 128)
    assert m.fit_box(100, 50, 256) == (100, 50)
    assert m.fit_box(300, 900, 300) == (100, 300)
    assert m.fit_box(1000, 1, 10) == (10, 1)
    with pytest.raises(ValueError):
        m.fit_box(0, 10, 256)
    with pytest.raises(ValueError):
        m.fit_box(10, 0, 256)


def test_fetch_preview_of_an_allowed_host(fetched):
    preview = m.fetch_preview("https://cdn.chat.example/q3", "ann")
    assert preview == {"url": "https://cdn.chat.example/q3", "title": "Quarterly report"}
    assert fetched == [("https://cdn.chat.example/q3", m.MAX_BYTES)]


def test_fetch_refuses_other_hosts(fetched):
    with pytest.raises(ValueError):
        m.fetch_preview("https://evil.example/", "ann")
    with pytest.raises(ValueError):
        m.fetch_thumbnail("https://evil.example/a.png", 10, 10)
    assert fetched == []


def test_fetch_thumbnail(fetched):
    data, size = m.fetch_thumbnail("https://img.partner.example/a.png", 512, 256, box=128)
    assert data.startswith(b"<html>") and size == (128, 64)
    assert fetched[0][1] == m.MAX_BYTES * 4


def test_preview_log_lines(fetched, caplog):
    with caplog.at_level(logging.INFO, logger="previews"):
        m.fetch_preview("https://media.chat.example/x", "bob")
    assert caplog.messages == ["preview of 'https://media.chat.example/x' requested by 'bob'"]


def test_store_and_read_cached(cache):
    path = m.store_preview("abc", {"url": "u", "title": "t"})
    assert path == os.path.join(cache, "abc.json")
    assert m.read_cached("abc.json") == {"url": "u", "title": "t"}
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle)["title"] == "t"


def test_cache_refuses_escapes(cache):
    with pytest.raises(ValueError):
        m.cache_path("../outside")
    with pytest.raises(ValueError):
        m.read_cached("../outside.json")


def test_search_titles_is_case_insensitive_and_limited():
    previews = [{"title": f"Report {i}"} for i in range(30)] + [{"title": "Other"}]
    assert len(m.search_titles(previews, "report")) == 20
    assert m.search_titles(previews, "oth") == [{"title": "Other"}]
    assert len(m.search_titles(previews, "REPORT 1", limit=50)) == 11
    assert m.search_titles(previews, "report", limit=0) == []


def test_mention_pattern():
    pattern = m.mention_pattern(["ann", "bob"])
    assert pattern.findall("hi @ann and @bob, not @annie") == ["ann", "bob"]
    assert pattern.search("mail ann@") is None


def test_render_card():
    card = m.render_card({"url": "https://cdn.chat.example/a?b=1&c=2", "title": "Fish & chips"})
    assert card == ('<a class="card" href="https://cdn.chat.example/a?b=1&amp;c=2">'
                    "<strong>Fish &amp; chips</strong></a>")
    assert "<strong>https://x</strong>" in m.render_card({"url": "https://x", "title": ""})


def test_after_sign_in_keeps_local_and_own_targets():
    assert m.after_sign_in("/channels/42", "ann") == "/channels/42"
    assert m.after_sign_in("https://chat.example/settings", "ann") == "https://chat.example/settings"
    assert m.after_sign_in("https://evil.example/", "ann") == "/"
    assert m.after_sign_in("javascript:alert(1)", "ann") == "/"
    assert m.after_sign_in("/\\evil.example", "ann") == "/"
