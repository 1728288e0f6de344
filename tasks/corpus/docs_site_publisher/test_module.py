import logging
import os

import pytest

import module as m


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = os.path.realpath(tmp_path / "site")
    os.makedirs(os.path.join(root, "assets", "img"))
    with open(os.path.join(root, "assets", "img", "logo.svg"), "wb") as handle:
        handle.write(b"<svg/>")
    monkeypatch.setattr(m, "SITE_ROOT", root)
    return root


@pytest.fixture
def fetched(monkeypatch):
    urls = []

    def fake_get(url):
        urls.append(url)
        return "  # Title\n\nBody text\n  "

    monkeypatch.setattr(m, "_get", fake_get)
    return urls


def test_slugify():
    assert m.slugify("Getting Started: Install & Run!") == "getting-started-install-run"
    assert m.slugify("!!!") == "page"
    assert m.slugify("a" * 59 + " bb") == "a" * 59
    assert len(m.slugify("word " * 40)) <= 60


def test_reading_minutes_rounds_up():
    assert m.reading_minutes("") == 1
    assert m.reading_minutes("w " * 200) == 1
    assert m.reading_minutes("w " * 201) == 2
    assert m.reading_minutes("w " * 1000) == 5
    assert m.reading_minutes("w " * 301, words_per_minute=100) == 4


def test_table_of_contents():
    text = "# Intro\nsome text\n## Setup\n### Deep\n#not-a-heading\n## Usage  \n"
    assert m.table_of_contents(text) == [(1, "Intro"), (2, "Setup"), (2, "Usage")]
    assert m.table_of_contents(text, depth=3) == [(1, "Intro"), (2, "Setup"), (3, "Deep"), (2, "Usage")]
    assert m.table_of_contents(text, depth=1) == [(1, "Intro")]


def test_render_toc_escapes_titles():
    assert m.render_toc([(1, "Fish & Chips")]) == (
        '<ul><li class="toc-1"><a href="#fish-chips">Fish &amp; Chips</a></li></ul>')
    assert m.render_toc([]) == "<ul></ul>"


def test_import_and_include_from_allowed_hosts(fetched, caplog):
    with caplog.at_level(logging.INFO, logger="docs.audit"):
        assert m.import_source("https://git.docs.example/a.md", "ann").startswith("  # Title")
    assert caplog.messages == ["import of 'https://git.docs.example/a.md' by 'ann'"]
    assert m.fetch_include("https://raw.docs.example/b.md") == "# Title\n\nBody text"
    assert fetched == ["https://git.docs.example/a.md", "https://raw.docs.example/b.md"]


def test_other_hosts_refused(fetched):
    with pytest.raises(PermissionError):
        m.import_source("https://evil.example/a.md", "ann")
    with pytest.raises(PermissionError):
        m.fetch_include("https://evil.example/b.md")
    assert fetched == []


def test_publish_and_read_asset(site, caplog):
    with caplog.at_level(logging.INFO, logger="docs.audit"):
        path = m.publish("guide", "<h1>Guide</h1>", "ann")
    assert path == os.path.join(site, "guide", "index.html")
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == "<h1>Guide</h1>"
    assert caplog.messages == ["published 'guide' by 'ann'"]
    assert m.read_asset("img/logo.svg") == b"<svg/>"


def test_site_paths_confined(site):
    with pytest.raises(ValueError):
        m.page_path("../../etc")
    with pytest.raises(ValueError):
        m.read_asset("../../outside")
    with pytest.raises(ValueError):
        m.read_asset("../guide/index.html")


def test_search_pages():
    pages = {"install": "Install the CLI", "faq": "Reinstall? See install.", "api": "REST endpoints"}
    assert m.search_pages(pages, "install") == ["faq", "install"]
    assert m.search_pages(pages, "rest") == ["api"]
    assert m.search_pages(pages, "stall") == []


def test_link_glossary_prefers_longest_term():
    glossary = {"API": "x", "API key": "y"}
    assert m.link_glossary("Use an API key or the API.", glossary) == (
        "Use an [API key](/glossary#api-key) or the [API](/glossary#api).")
    assert m.link_glossary("RAPID", glossary) == "RAPID"
    assert m.link_glossary("text", {}) == "text"


def test_return_to():
    assert m.return_to("/guide#setup") == "/guide#setup"
    assert m.return_to("https://docs.example/api") == "https://docs.example/api"
    assert m.return_to("https://evil.example/") == "/"
    assert m.return_to("javascript:alert(1)") == "/"
    assert m.return_to("/\\evil.example") == "/"


def test_page_heading():
    assert m.page_heading("Q&A", 3) == '<h1>Q&amp;A</h1><p class="meta">3 min read</p>'
