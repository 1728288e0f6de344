"""Security headers on every response, and templates that need no inline script or style."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.headers import SECURITY_HEADERS

TEMPLATES = Path(__file__).resolve().parents[1] / "app" / "templates"


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/", 200),
    ("GET", "/episodes", 200),
    ("GET", "/episodes/some-id", 200),
    ("GET", "/analytics", 200),
    ("GET", "/static/js/review.js", 200),
    ("GET", "/static/css/app.css", 200),
    ("GET", "/tasks", 200),
    ("GET", "/health", 200),
    ("GET", "/openapi.json", 200),
    ("GET", "/api/episodes", 200),
    ("GET", "/api/episodes/unknown", 404),
    ("POST", "/reset", 200),
    ("POST", "/step", 422),
    ("GET", "/no/such/page", 404),
])
def test_every_response_carries_the_security_headers(client, method, path, status) -> None:  # type: ignore[no-untyped-def]
    response = client.open(path, method=method, json={} if method == "POST" else None)
    response.close()  # static files are streamed from an open file
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


def test_content_security_policy_forbids_inline_script(client) -> None:  # type: ignore[no-untyped-def]
    directives = csp_directives(client.get("/").headers["Content-Security-Policy"])
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["connect-src"] == ["'self'"]  # CSP 3: 'self' also allows ws: / wss: to this host
    every_source = " ".join(" ".join(values) for values in directives.values())
    assert "'unsafe-inline'" not in every_source and "'unsafe-eval'" not in every_source
    assert "*" not in every_source.split()


def test_companion_headers(client) -> None:  # type: ignore[no-untyped-def]
    headers = client.get("/tasks").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]


class InlineFinder(HTMLParser):
    """Collects what the CSP would block: inline scripts, style attributes, event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems += [f"{name} on <{tag}>" for name in names if name.startswith("on")]
        for name, value in attrs:
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name}")


@pytest.mark.parametrize("template", sorted(path.name for path in TEMPLATES.glob("*.html")))
def test_templates_hold_no_inline_script_or_style(template: str) -> None:
    finder = InlineFinder()
    finder.feed(TEMPLATES.joinpath(template).read_text())
    assert finder.problems == []


@pytest.mark.parametrize("template", sorted(path.name for path in TEMPLATES.glob("*.html")))
def test_templates_never_disable_escaping(template: str) -> None:
    text = TEMPLATES.joinpath(template).read_text()
    assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", text)


def test_scripts_never_parse_data_as_html() -> None:
    scripts = (TEMPLATES.parent / "static" / "js").glob("*.js")
    for script in scripts:
        text = script.read_text()
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function",
                             text), script.name
