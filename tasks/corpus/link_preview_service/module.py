"""Link previews for a team chat: when a message carries a URL from a partner CDN, the service
fetches the page title and a thumbnail, caches them on disk, lets users search cached titles and
sends them back to the page they came from after signing in."""

import html
import json
import logging
import os
import re
import urllib.request
from urllib.parse import urlsplit

log = logging.getLogger("previews")

ALLOWED_HOSTS = frozenset({"cdn.chat.example", "media.chat.example", "img.partner.example"})
OWN_HOST = "chat.example"
CACHE_ROOT = os.path.realpath(os.environ.get("PREVIEW_CACHE", "/var/cache/previews"))
MAX_BYTES = 512_000
TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx becomes an HTTPError: an allowed host cannot bounce us elsewhere


_OPENER = urllib.request.build_opener(_NoRedirects)


def _download(url: str, limit: int = MAX_BYTES) -> bytes:
    with _OPENER.open(url, timeout=5) as response:
        return response.read(limit)


def parse_title(page: str, width: int = 80) -> str:
    """The page's <title>, whitespace collapsed, cut to ``width`` characters."""
    match = TITLE_RE.search(page)
    if match is None:
        return ""
    title = " ".join(match.group(1).split())
    if len(title) > width:
        return title[: width - 1] + "…"
    return title


def fit_box(width: int, height: int, box: int) -> tuple[int, int]:
    """Thumbnail size: the image scaled down (never up) to fit a ``box`` square."""
    if width <= 0 or height <= 0:
        raise ValueError("empty image")
    scale = min(box / width, box / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def fetch_preview(url: str, user: str) -> dict:
    if urlsplit(url).hostname not in ALLOWED_HOSTS:
        log.warning("preview refused for %r: host not allowed", url)
        raise ValueError("host not allowed")
    page = _download(url).decode("utf-8", "replace")
    log.info("preview of %r requested by %r", url, user)
    return {"url": url, "title": parse_title(page)}


def fetch_thumbnail(url: str, width: int, height: int, box: int = 256) -> tuple[bytes, tuple[int, int]]:
    if urlsplit(url).hostname not in ALLOWED_HOSTS:
        raise ValueError("host not allowed")
    data = _download(url, limit=MAX_BYTES * 4)
    return data, fit_box(width, height, box)


def cache_path(key: str) -> str:
    candidate = os.path.join(CACHE_ROOT, key + ".json")
    if not os.path.realpath(candidate).startswith(CACHE_ROOT + os.sep):
        raise ValueError("cache key escapes the cache")
    return candidate


def store_preview(key: str, preview: dict) -> str:
    path = cache_path(key)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(preview, handle)
    return path


def read_cached(name: str) -> dict:
    path = os.path.realpath(os.path.join(CACHE_ROOT, name))
    if os.path.commonpath([CACHE_ROOT, path]) != CACHE_ROOT:
        raise ValueError("outside the cache")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def search_titles(previews: list[dict], query: str, limit: int = 20) -> list[dict]:
    pattern = re.compile(re.escape(query), re.IGNORECASE)
    hits = [preview for preview in previews if pattern.search(preview["title"])]
    return hits[:limit]


def mention_pattern(names: list[str]) -> re.Pattern:
    return re.compile("@(" + "|".join(re.escape(name) for name in names) + r")\b")


def render_card(preview: dict) -> str:
    title = preview.get("title") or preview["url"]
    link = f'<a class="card" href="{html.escape(preview["url"])}">'
    return link + f"<strong>{html.escape(title)}</strong></a>"


def after_sign_in(target: str, user: str) -> str:
    target = target.replace("\\", "/")
    if urlsplit(target).scheme not in ("", "https"):
        return "/"
    if urlsplit(target).netloc not in ("", OWN_HOST):
        log.info("sign-in redirect to %r refused for %r", target, user)
        return "/"
    return target
