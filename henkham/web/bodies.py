"""What a request body may be, decided once for every route: UTF-8 JSON that PostgreSQL can store
(core/safejson.py decodes it).

- a body must be JSON (``Content-Type: application/json``), else 415 — except on the routes of ``FILE_BODIES``,
  which take a file as it is (a HIS export in XML, a FHIR bundle) in the media types listed there, up to the
  size of their setting instead of the app's 64 KB;
- it must be UTF-8 (RFC 8259; a UTF-16 or Latin-1 body is 400, not silently guessed);
- at most ``safejson.MAX_DEPTH`` levels of arrays and objects (a deeply nested body is 400, not a RecursionError);
- no lone UTF-16 surrogate (``"\\ud800"``) in any string or key: it cannot be stored, nor even written back as
  UTF-8: 400. (NUL, which PostgreSQL cannot store either, is refused per field by core.inputs.Strict: 422.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Request, current_app, request
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


@dataclass(frozen=True)
class FileBody:
    """A route that takes a file: the media types it accepts besides JSON, and the setting of its size limit."""

    media_types: tuple[str, ...]
    max_bytes_setting: str


FILE_BODIES = {
    "api_v1.create_emr_import": FileBody(
        ("application/xml", "text/xml", "application/fhir+json"), "emr_import_max_bytes"
    ),
}


def refuse_non_json_bodies() -> None:
    """before_request: a request that carries a body must say it is JSON (415 otherwise), or be a file of a
    media type its route takes (FILE_BODIES), which also sets the route's own size limit."""
    if request.path.startswith("/zalo/"):
        return  # the webhook reads its raw, signed bytes itself
    if request.blueprint == "staff":
        return  # the console's forms (CSRF-checked by henkham/web/console/access.py)
    file_body = FILE_BODIES.get(request.endpoint or "")
    if file_body is not None:
        request.max_content_length = getattr(current_app.extensions["henkham.settings"], file_body.max_bytes_setting)
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"
    if not has_body or request.is_json:
        return
    if file_body is not None and request.mimetype in file_body.media_types:
        return
    if file_body is not None:
        raise UnsupportedMediaType(
            f"the request body must be one of: application/json, {', '.join(file_body.media_types)}"
        )
    raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
