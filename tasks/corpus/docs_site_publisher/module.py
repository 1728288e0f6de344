"""Publishing for a hosted docs site: Markdown imported from the team's git hosts, pages written
under SITE_ROOT by slug, search, glossary links, and a way back to the page being edited."""

import html
import logging
import os
import re
import urllib.request
from urllib.parse import urlsplit

audit = logging.getLogger("docs.audit")

SOURCE_HOSTS = frozenset({"git.docs.example", "raw.docs.example"})
SITE_HOST = "docs.example"
SITE_ROOT = os.path.realpath(os.environ.get("DOCS_SITE_ROOT", "/srv/docs/site"))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a source host must not bounce an import to another address


def _get(url: str) -> str:
    with urllib.request.build_opener(_NoRedirects).open(url, timeout=10) as response:
        return response.read(1_000_000).decode("utf-8")


def slugify(title: str) -> str:
    """Lower-case words of the title joined by dashes (at most 60 characters)."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return "-".join(words)[:60].rstrip("-") or "page"


def reading_minutes(text: str, words_per_minute: int = 200) -> int:
    """Minutes to read ``text``, rounded up, at least one."""
    words = len(text.split())
    return max(1, -(-words // words_per_minute))


def table_of_contents(markdown: str, depth: int = 2) -> list[tuple[int, str]]:
    entries = []
    for line in markdown.splitlines():
        marks = len(line) - len(line.lstrip("#"))
        if marks == 0 or marks > depth or not line[marks:].startswith(" "):
            continue
        entries.append((marks, line[marks:].strip()))
    return entries


def render_toc(entries: list[tuple[int, str]]) -> str:
    items = []
    for level, title in entries:
        anchor = html.escape(slugify(title))
        items.append(f'<li class="toc-{int(level)}"><a href="#{anchor}">{html.escape(title)}</a></li>')
    return "<ul>" + "".join(items) + "</ul>"


def page_heading(title: str, minutes: int) -> str:
    return f'<h1>{html.escape(title)}</h1><p class="meta">{int(minutes)} min read</p>'


def import_source(url: str, author: str) -> str:
    if urlsplit(url).hostname not in SOURCE_HOSTS:
        audit.warning("import from %r refused for %r", url, author)
        raise PermissionError("source host not allowed")
    audit.info("import of %r by %r", url, author)
    return _get(url)


def fetch_include(url: str) -> str:
    if urlsplit(url).hostname not in SOURCE_HOSTS:
        raise PermissionError("include host not allowed")
    return _get(url).strip()


def page_path(slug: str) -> str:
    candidate = os.path.join(SITE_ROOT, slug, "index.html")
    if not os.path.realpath(candidate).startswith(SITE_ROOT + os.sep):
        raise ValueError("page outside the site")
    return candidate


def publish(slug: str, body: str, editor: str) -> str:
    path = page_path(slug)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(body)
    audit.info("published %r by %r", slug, editor)
    return path


def read_asset(relative: str) -> bytes:
    assets = os.path.join(SITE_ROOT, "assets")
    path = os.path.realpath(os.path.join(assets, relative))
    if os.path.commonpath([assets, path]) != assets:
        raise ValueError("asset outside the site")
    with open(path, "rb") as handle:
        return handle.read()


def search_pages(pages: dict[str, str], query: str) -> list[str]:
    pattern = re.compile(r"\b" + re.escape(query), re.IGNORECASE)
    return sorted(slug for slug, text in pages.items() if pattern.search(text))


def link_glossary(text: str, glossary: dict[str, str]) -> str:
    if not glossary:
        return text
    terms = sorted(glossary, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(term) for term in terms) + r")\b")
    return pattern.sub(lambda found: f"[{found.group(1)}](/glossary#{slugify(found.group(1))})", text)


def return_to(target: str) -> str:
    target = target.replace("\\", "/")
    if urlsplit(target).scheme not in ("", "https"):
        return "/"
    if urlsplit(target).netloc not in ("", SITE_HOST):
        return "/"
    return target
