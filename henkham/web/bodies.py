"""What a request body may be, decided once for every route: UTF-8 JSON that PostgreSQL can store
(core/safejson.py decodes it).

- a body must be JSON (``Content-Type: application/json``), else 415;
- it must be UTF-8 (RFC 8259; a UTF-16 or Latin-1 body is 400, not silently guessed);
- at most ``safejson.MAX_DEPTH`` levels of arrays and objects (a deeply nested body is 400, not a RecursionError);
- no lone UTF-16 surrogate (``"\\ud800"``) in any string or key: it cannot be stored, nor even written back as
  UTF-8: 400. (NUL, which PostgreSQL cannot store either, is refused per field by core.inputs.Strict: 422.)
"""

from __future__ import annotations

from typing import Any

from flask import Request, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from core import safejson


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, decoding with core.safejson (the rules above) on the way in."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return safejson.loads(s, **kwargs)


class StrictRequest(Request):
    """Says why a body was refused (Flask's default is a bare 400 outside debug mode)."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise BadRequest(str(e) if isinstance(e, safejson.UnsafeJSON) else "the body is not valid JSON")


def refuse_non_json_bodies() -> None:
    """before_request: a request that carries a body must say it is JSON (415 otherwise)."""
    if request.path.startswith("/zalo/"):
        return  # the webhook reads its raw, signed bytes itself
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"
    if has_body and not request.is_json:
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
