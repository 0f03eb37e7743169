"""Security headers on every response of the web app: API, webhook, docs, errors and 404s alike.

JSON and the plain pages need nothing from anywhere (``default-src 'none'``); the API docs page runs Swagger UI
from this origin only (scripts and styles served by henkham/web/docs.py; Swagger UI sets inline style attributes
and draws some icons as data: images). No page may be framed.
"""

from __future__ import annotations

from flask import Flask, Response, request

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def install(app: Flask, docs_prefix: str) -> None:
    """Add the headers after every request (after_request also runs for error responses and 404s)."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        csp = DOCS_CSP if request.path.startswith(docs_prefix) else STRICT_CSP
        response.headers.setdefault("Content-Security-Policy", csp)
        if request.authorization is not None:  # answers to a key may hold personal data: no shared caches
            response.headers.setdefault("Cache-Control", "no-store")
        return response
