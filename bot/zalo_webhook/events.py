"""Reading Zalo webhook events (shared/zalo-api.md): who sent what, and the key that deduplicates them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core import safejson

# Events a user causes (they open or extend the free 48-hour chat window).
USER_INTERACTIONS = frozenset(
    {
        "user_send_text",
        "user_send_image",
        "user_send_link",
        "user_send_audio",
        "user_send_video",
        "user_send_sticker",
        "user_send_location",
        "user_send_file",
        "user_send_gif",
        "user_submit_info",
        "user_click_chatnow",
        "follow",
    }
)
# What the assistant cannot read: it answers politely and offers staff.
NON_TEXT = frozenset(
    {
        "user_send_image",
        "user_send_audio",
        "user_send_video",
        "user_send_sticker",
        "user_send_file",
        "user_send_gif",
        "user_send_location",
        "user_send_link",
    }
)


class MalformedEvent(ValueError):
    """The body is not a Zalo event this service can store (the webhook answers 400)."""


@dataclass(frozen=True)
class ZaloEvent:
    app_id: str
    oa_id: str  # the OA the event belongs to
    name: str
    user_id: str | None  # the user's id for this OA (whom to answer); None for events without one
    msg_id: str | None
    timestamp: str
    text: str | None = None
    admin_id: str | None = None  # set on oa_send_* when a staff member replied from the OA inbox
    info: dict[str, Any] | None = None  # user_submit_info

    @property
    def key(self) -> str:
        """Unique per OA: the message id, or (when there is none) a digest of name, user and timestamp."""
        if self.msg_id:
            return f"msg:{self.msg_id}"[:200]
        basis = f"{self.name}|{self.user_id or ''}|{self.timestamp}"
        return "evt:" + hashlib.sha256(basis.encode()).hexdigest()

    @property
    def is_user_interaction(self) -> bool:
        return self.name in USER_INTERACTIONS


def parse(raw: bytes) -> tuple[ZaloEvent, dict[str, Any]]:
    """The event and its decoded JSON; MalformedEvent when the body is not a JSON object with the fields every
    Zalo event carries (``app_id``, ``event_name``, ``timestamp``)."""
    try:
        payload = safejson.loads(raw)  # UTF-8, bounded depth, no lone surrogates (never a RecursionError)
    except (UnicodeDecodeError, json.JSONDecodeError, safejson.UnsafeJSON) as error:
        raise MalformedEvent(f"body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise MalformedEvent("body is not a JSON object")
    app_id, name, timestamp = (_text(payload.get(f)) for f in ("app_id", "event_name", "timestamp"))
    if not app_id or not name or not timestamp:
        raise MalformedEvent("app_id, event_name and timestamp are required")
    sender, recipient = _obj(payload.get("sender")), _obj(payload.get("recipient"))
    message = _obj(payload.get("message"))
    if name.startswith("oa_send_"):  # the OA speaks: the user is the recipient
        oa_id, user_id = _text(sender.get("id")) or _text(payload.get("oa_id")), _text(recipient.get("id"))
    elif name in ("follow", "unfollow"):
        oa_id, user_id = _text(payload.get("oa_id")), _text(_obj(payload.get("follower")).get("id"))
    elif name == "user_click_chatnow":
        oa_id, user_id = _text(payload.get("oa_id")), _text(payload.get("user_id"))
    else:
        oa_id = _text(recipient.get("id")) or _text(payload.get("oa_id"))
        user_id = _text(sender.get("id")) or _text(payload.get("user_id"))
    if not oa_id:
        raise MalformedEvent("the event names no OA")
    info = payload.get("info")
    return (
        ZaloEvent(
            app_id=app_id,
            oa_id=oa_id,
            name=name,
            user_id=user_id or None,
            msg_id=_text(message.get("msg_id")) or None,
            timestamp=timestamp,
            text=message.get("text") if isinstance(message.get("text"), str) else None,
            admin_id=_text(sender.get("admin_id")) or None,
            info=info if isinstance(info, dict) else None,
        ),
        payload,
    )


def shared_phone(info: dict[str, Any] | None) -> str | None:
    """The phone of a user_submit_info event, in either of Zalo's two shapes (both carry ``phone``)."""
    if not info:
        return None
    phone = info.get("phone")
    return _text(phone) or None


def _text(value: Any) -> str:
    """Zalo sends ids and timestamps as strings; accept numbers too, never anything else."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int):
        return str(value)[:200]
    return ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
