"""The limits of the API's path and header strings, stated once: enforced before every view and documented.

A path value longer than the column it is looked up in is refused with 422 (on PostgreSQL it could otherwise
reach a ``varchar(n)`` insert and fail with a 500), and the OpenAPI document states every limit.
"""

from __future__ import annotations

from flask import request

from bot.zalo_webhook.graph import MAX_TOKEN_LENGTH
from core.errors import InvalidInput

from .schemas import MAX_ID

# name of a path variable -> its longest value (the column it names)
PATH_STRINGS: dict[str, int] = {
    "slug": 64,  # hospitals.slug
    "department": 40,  # departments.slug
    "code": 12,  # appointments.code (booking codes are 6 characters)
    "oa_id": 40,  # zalo conversations.oa_id
    "user_id": 40,  # zalo conversations.user_id
}
ACCOUNT_HEADER = "X-Henkham-Account"
ZALO_TOKEN_HEADER = "X-Zalo-Access-Token"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# the headers' limits, as api.py checks them (documented in the OpenAPI document)
HEADER_STRINGS: dict[str, int] = {ACCOUNT_HEADER: 120, IDEMPOTENCY_HEADER: 120, ZALO_TOKEN_HEADER: MAX_TOKEN_LENGTH}
VI_INVALID = "Dạ, thông tin gửi lên chưa đúng. Anh/chị kiểm tra lại giúp em ạ."


def path_schema(name: str, converter: str) -> dict | None:
    """The JSON schema of a path variable, or None when it has no stated limit."""
    if converter == "id":
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    if name in PATH_STRINGS:
        return {"type": "string", "minLength": 1, "maxLength": PATH_STRINGS[name]}
    return None


def refuse_unstorable_input() -> None:
    """before_request: no NUL anywhere in the URL or headers; path values within their columns."""
    raw = request.full_path + "".join(request.headers.values())
    if "\x00" in raw or "%00" in request.full_path:
        raise InvalidInput("NUL characters are not allowed", "Dạ, thông tin gửi lên có ký tự không hợp lệ ạ.")
    too_long = {
        name: [f"at most {PATH_STRINGS[name]} characters"]
        for name, value in (request.view_args or {}).items()
        if isinstance(value, str) and name in PATH_STRINGS and len(value) > PATH_STRINGS[name]
    }
    if too_long:
        raise InvalidInput("the request is not valid; see details", VI_INVALID, path=too_long)
