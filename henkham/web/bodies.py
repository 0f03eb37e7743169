"""What a request body may be, decided once for every route: UTF-8 JSON that PostgreSQL can store.

- a body must be JSON (``Content-Type: application/json``), else 415;
- it must be UTF-8 (RFC 8259; a UTF-16 or Latin-1 body is 400, not silently guessed);
- at most ``MAX_DEPTH`` levels of arrays and objects (a deeply nested body is 400, not a RecursionError);
- no lone UTF-16 surrogate (``"\\ud800"``) in any string or key: it cannot be stored, nor even written back as
  UTF-8: 400. (NUL, which PostgreSQL cannot store either, is refused per field by core.inputs.Strict: 422.)
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Request, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

MAX_DEPTH = 20
_UNSTORABLE = re.compile("[\ud800-\udfff]")
_BRACKETS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class BodyRefused(ValueError):
    """A body that is not acceptable JSON (Flask answers a ValueError from the JSON loader with 400)."""


def _depth_ok(raw: bytes) -> bool:
    depth = 0
    for match in _BRACKETS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif token in (b"]", b"}"):
            depth -= 1
    return True


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise BodyRefused("strings must not contain lone UTF-16 surrogates")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, with the body rules above on the way in."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        raw = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyRefused("the body must be UTF-8 encoded JSON") from exc
        if not _depth_ok(raw):
            raise BodyRefused(f"JSON nested deeper than {MAX_DEPTH} levels")
        try:
            value = json.loads(text, **kwargs)
        except RecursionError as exc:  # pragma: no cover - the depth check comes first
            raise BodyRefused("JSON nested too deeply") from exc
        _check_strings(value)
        return value


class StrictRequest(Request):
    """Says why a body was refused (Flask's default is a bare 400 outside debug mode)."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, BodyRefused):
            raise BadRequest(str(e))
        raise BadRequest("the body is not valid JSON")


def refuse_non_json_bodies() -> None:
    """before_request: a request that carries a body must say it is JSON (415 otherwise)."""
    if request.path.startswith("/zalo/"):
        return  # the webhook reads its raw, signed bytes itself
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"
    if has_body and not request.is_json:
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
