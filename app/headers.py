"""Security headers added to every response (pages, static files and JSON alike).

The Content-Security-Policy allows scripts, styles and connections from this origin only and
no inline script or style: stored snippets and descriptions are hostile by design, so even a
rendering mistake could not run them. ``connect-src 'self'`` also covers ``ws:`` / ``wss:`` to
this host (CSP level 3), which the Review page's WebSocket needs.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


_BY_LOWER_NAME = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


def add_security_headers(response: Response) -> Response:
    """Set each security header the response does not set itself (one pass over its headers:
    ``Headers.setdefault`` scans them twice per name)."""
    present = {name.lower() for name in response.headers.keys()}
    response.headers.extend([(name, value) for lower, name, value in _BY_LOWER_NAME if lower not in present])
    return response


def init_headers(app: Flask) -> None:
    """Add the security headers (CSP and friends) to every response of ``app``."""
    app.after_request(add_security_headers)
