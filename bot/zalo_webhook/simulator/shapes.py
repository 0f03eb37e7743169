"""Which request bodies "Zalo" accepts: consultation message shapes and ZNS fields.

Each check raises ``ZaloError`` with the code Zalo answers; a shape not listed here is refused (-201).
"""

from __future__ import annotations

import re
from typing import Any

from .codes import (
    INVALID_PARAMETER,
    ZNS_INVALID_PHONE,
    ZNS_INVALID_TEMPLATE,
    ZNS_INVALID_TEMPLATE_DATA,
    ZaloError,
)

MAX_TEXT = 2000
MAX_BUTTON_TITLE = 100
MAX_TRACKING_ID = 48
MAX_TEMPLATE_VALUE = 100
ZNS_PHONE = re.compile(r"^84\d{9}$")
QUERY_BUTTONS = {"oa.query.show", "oa.query.hide"}
MESSAGE_KEYS = {"text", "attachment", "quote_message_id"}


def _fail(detail: str) -> ZaloError:
    return ZaloError(INVALID_PARAMETER, detail)


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_recipient(body: dict[str, Any]) -> str:
    recipient = body.get("recipient")
    user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
    if not _nonempty(user_id):
        raise _fail("recipient.user_id is missing")
    return user_id


def check_cs_message(message: Any, max_buttons: int) -> None:
    """Accept the shapes of shared/zalo-api.md: text, text + buttons, request_user_info, media, file."""
    if not isinstance(message, dict) or not message:
        raise _fail("message is missing")
    unknown = set(message) - MESSAGE_KEYS
    if unknown:
        raise _fail(f"unknown message fields {sorted(unknown)}")
    if "quote_message_id" in message and not _nonempty(message["quote_message_id"]):
        raise _fail("quote_message_id must be a message id")
    text = message.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise _fail("text must be a non-empty string")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise _fail(f"text is longer than {MAX_TEXT} characters")
    attachment = message.get("attachment")
    if attachment is None:
        if text is None:
            raise _fail("message has neither text nor attachment")
        return
    if not isinstance(attachment, dict):
        raise _fail("attachment must be an object")
    payload = attachment.get("payload")
    if not isinstance(payload, dict):
        raise _fail("attachment.payload must be an object")
    if attachment.get("type") == "file":
        if not _nonempty(payload.get("token")):
            raise _fail("a file attachment needs payload.token")
        return
    if attachment.get("type") != "template":
        raise _fail("attachment.type must be template or file")
    template_type = payload.get("template_type")
    if template_type == "button":
        if text is None:
            raise _fail("a button message needs text")
        _check_buttons(payload.get("buttons"), max_buttons)
    elif template_type == "request_user_info":
        element = _single_element(payload)
        if not _nonempty(element.get("title")):
            raise _fail("request_user_info needs a title")
        for key in ("subtitle", "image_url"):
            if key in element and not isinstance(element[key], str):
                raise _fail(f"request_user_info {key} must be a string")
    elif template_type == "media":
        element = _single_element(payload)
        if element.get("media_type") not in ("image", "gif"):
            raise _fail("media_type must be image or gif")
        if not (_nonempty(element.get("url")) or _nonempty(element.get("attachment_id"))):
            raise _fail("media needs url or attachment_id")
    else:
        raise _fail(f"unknown template_type {template_type!r}")


def _single_element(payload: dict[str, Any]) -> dict[str, Any]:
    elements = payload.get("elements")
    if not isinstance(elements, list) or len(elements) != 1 or not isinstance(elements[0], dict):
        raise _fail("payload.elements must hold exactly one element")
    return elements[0]


def _check_buttons(buttons: Any, max_buttons: int) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= max_buttons:
        raise _fail(f"payload.buttons must hold 1 to {max_buttons} buttons")
    for button in buttons:
        if not isinstance(button, dict):
            raise _fail("a button must be an object")
        title = button.get("title")
        if not _nonempty(title) or len(title) > MAX_BUTTON_TITLE:
            raise _fail(f"a button needs a title of at most {MAX_BUTTON_TITLE} characters")
        kind, payload = button.get("type"), button.get("payload")
        if kind in QUERY_BUTTONS:
            ok = _nonempty(payload)
        elif kind == "oa.open.url":
            ok = isinstance(payload, dict) and _nonempty(payload.get("url"))
        elif kind == "oa.open.phone":
            ok = isinstance(payload, dict) and _nonempty(payload.get("phone_code"))
        else:
            raise _fail(f"unknown button type {kind!r}")
        if not ok:
            raise _fail(f"the payload of a {kind} button is invalid")


def check_zns(body: dict[str, Any], templates: dict[str, list[str]]) -> None:
    phone = body.get("phone")
    if not isinstance(phone, str) or not ZNS_PHONE.match(phone):
        raise ZaloError(ZNS_INVALID_PHONE, "expected 84 followed by 9 digits")
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or template_id not in templates:
        raise ZaloError(ZNS_INVALID_TEMPLATE, f"unknown template_id {template_id!r}")
    tracking_id = body.get("tracking_id")
    if tracking_id is not None and (not isinstance(tracking_id, str) or len(tracking_id) > MAX_TRACKING_ID):
        raise _fail(f"tracking_id must be a string of at most {MAX_TRACKING_ID} characters")
    mode = body.get("mode")
    if mode is not None and mode != "development":
        raise _fail('mode must be "development" when present')
    check_template_data(body.get("template_data"), templates[template_id])


def check_template_data(data: Any, params: list[str]) -> None:
    if not isinstance(data, dict):
        raise ZaloError(ZNS_INVALID_TEMPLATE_DATA, "template_data must be an object")
    missing = [name for name in params if data.get(name) is None or str(data[name]) == ""]
    if missing:
        raise ZaloError(ZNS_INVALID_TEMPLATE_DATA, f"missing parameters {missing}")
    unknown = sorted(set(data) - set(params))
    if unknown:
        raise ZaloError(ZNS_INVALID_TEMPLATE_DATA, f"unknown parameters {unknown}")
    too_long = [name for name in params if len(str(data[name])) > MAX_TEMPLATE_VALUE]
    if too_long:
        raise ZaloError(ZNS_INVALID_TEMPLATE_DATA, f"longer than {MAX_TEMPLATE_VALUE} characters: {too_long}")
