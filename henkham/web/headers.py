"""Security headers on every response of the web app: API, webhook, docs, errors and 404s alike.

JSON and the plain pages need nothing from anywhere (``default-src 'none'``); the staff console (``/staff``) runs
its own scripts and styles from this origin, none inline, and its pages are never cached; the API docs page runs
Swagger UI from this origin only (scripts and styles served by henkham/web/docs.py; Swagger UI sets inline style
attributes and draws some icons as data: images). No page may be framed.
"""

from __future__ import annotations

from flask import Flask, Response, request

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# The staff console: its own scripts, styles and images only (no inline script or style), forms to itself.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; media-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def install(app: Flask, docs_prefix: str, console_prefix: str = "/staff") -> None:
    """Add the headers after every request (after_request also runs for error responses and 404s)."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        console = request.path == console_prefix or request.path.startswith(console_prefix + "/")
        csp = DOCS_CSP if request.path.startswith(docs_prefix) else CONSOLE_CSP if console else STRICT_CSP
        response.headers.setdefault("Content-Security-Policy", csp)
        if console and request.endpoint not in ("staff.asset", "staff.static"):
            response.headers.setdefault("Cache-Control", "no-store")  # pages of patient data: no cache keeps them
        if request.authorization is not None:  # answers to a key may hold personal data: no shared caches
            response.headers.setdefault("Cache-Control", "no-store")
        return response
