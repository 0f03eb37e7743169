"""Reading Zalo webhook events (shared/zalo-api.md): who sent what, and the key that deduplicates them.

Every rule about the shape of a Zalo body lives here, so the webhook and the workers read an event the same
way: the body must be UTF-8 JSON (no BOM, no UTF-16), ids must fit the columns that hold them, and which side
of ``sender`` / ``recipient`` is the OA depends on the event family.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
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
# Events in which the OA is the sender and the user the recipient: the OA's own messages echoed back, and
# the receipts of what the OA sent (shared/zalo-api.md, "What real webhook bodies show").
RECEIPTS = frozenset({"user_seen_message", "user_received_message"})
# Events naming the OA at the top level (``oa_id``) and the user in a field of their own.
TOP_LEVEL_OA = {"follow": ("follower", "id"), "unfollow": ("follower", "id"), "user_click_chatnow": ("user_id",)}

MAX_ID = 40  # the columns holding OA and user ids (zalo_inbox, zalo_conversations) are String(40)
MAX_EVENT_NAME = 60
MAX_TIMESTAMP = 40
_ID = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces: Zalo ids are digits or hex
_EVENT_NAME = re.compile(r"^[a-z0-9_.\-]+$", re.IGNORECASE)
_PHONE = re.compile(r"^(\+?84\d{9}|0\d{9})$")  # ZNS receipts put the phone where a user id would be
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # NUL, controls, lone surrogates


class MalformedEvent(ValueError):
    """The body is not a Zalo event this service can store (the webhook answers 400)."""


@dataclass(frozen=True)
class ZaloEvent:
    app_id: str
    oa_id: str  # the OA the event belongs to ("" when the body names none: see ``parse``)
    name: str
    user_id: str | None  # the user's id for this OA (whom to answer); None for events without one
    msg_id: str | None
    timestamp: str
    text: str | None = None  # as sent (may hold lone surrogates: see ``clean_text``)
    admin_id: str | None = None  # on oa_send_* when a third-party tool names the staff member (rarely)
    info: dict[str, Any] | None = None  # user_submit_info

    @property
    def key(self) -> str:
        """Unique per OA: event name and message id (receipts and reactions carry the id of the message they
        are about, so the id alone is not unique), or a digest of name, user and timestamp."""
        if self.msg_id:
            key = f"msg:{self.name}:{self.msg_id}"
            if len(key) <= 200:
                return key
            return "msgh:" + hashlib.sha256(key.encode()).hexdigest()
        basis = f"{self.name}|{self.user_id or ''}|{self.timestamp}"
        return "evt:" + hashlib.sha256(basis.encode()).hexdigest()

    @property
    def is_user_interaction(self) -> bool:
        return self.name in USER_INTERACTIONS

    @property
    def is_oa_echo(self) -> bool:
        """The OA's own message echoed back (sent by this assistant, or by staff from Zalo's OA inbox)."""
        return self.name.startswith("oa_send_")


def decode(raw: bytes) -> dict[str, Any]:
    """The JSON object of a body; MalformedEvent unless it is UTF-8 JSON (Zalo sends nothing else)."""
    try:
        # UTF-8 only, bounded depth (never a RecursionError); a lone surrogate escaped in a signed text is a
        # patient's half emoji: kept, and replaced before the bot reads it (clean_text)
        payload = safejson.loads(raw, allow_surrogates=True)
    except safejson.UnsafeJSON as error:
        raise MalformedEvent(str(error)) from None
    if not isinstance(payload, dict):
        raise MalformedEvent("body is not a JSON object")
    return payload


def parse(raw: bytes, served: Callable[[str, str], bool] | None = None) -> tuple[ZaloEvent, dict[str, Any]]:
    """The event and its decoded JSON; MalformedEvent when the body is not a JSON object with the fields every
    Zalo event carries (``app_id``, ``event_name``, ``timestamp``), or names its OA with something that is not
    a Zalo id. A body naming no OA at all (a shape we do not know) gets ``oa_id`` "" and no user.

    ``served(app_id, oa_id)`` tells which OAs are ours; it picks the OA's side of an event of a family this
    code does not know (the first candidate otherwise)."""
    payload = decode(raw)
    app_id = _field(payload.get("app_id"), "app_id", MAX_ID)
    name = _field(payload.get("event_name"), "event_name", MAX_EVENT_NAME)
    timestamp = _field(payload.get("timestamp"), "timestamp", MAX_TIMESTAMP)
    if not _EVENT_NAME.match(name):
        raise MalformedEvent("event_name is not an event name")
    sender, recipient = _obj(payload.get("sender")), _obj(payload.get("recipient"))
    message = _obj(payload.get("message"))
    sender_id, recipient_id = _id(sender.get("id")), _id(recipient.get("id"))
    top_oa = _id(payload.get("oa_id"))
    if name.startswith("oa_send_") or name in RECEIPTS:  # the OA speaks (or hears back about what it said)
        oa_id, user_id = sender_id or top_oa, recipient_id
        oa_fields = [sender.get("id"), payload.get("oa_id")]
    elif name in TOP_LEVEL_OA:
        oa_id, user_id = top_oa, _id(_dig(payload, TOP_LEVEL_OA[name]))
        oa_fields = [payload.get("oa_id")]
    elif name.startswith("user_"):  # the user speaks: the OA is the recipient
        oa_id, user_id = recipient_id or top_oa, sender_id or _id(payload.get("user_id"))
        oa_fields = [recipient.get("id"), payload.get("oa_id")]
    else:  # a family we do not know: the side that is one of our OAs
        oa_fields = [sender.get("id"), recipient.get("id"), payload.get("oa_id")]
        pairs = [(recipient_id, sender_id), (sender_id, recipient_id), (top_oa, _id(payload.get("user_id")))]
        pairs = [(oa, user) for oa, user in pairs if oa]
        ours = [pair for pair in pairs if served is not None and served(app_id, pair[0])]
        oa_id, user_id = (ours or pairs or [("", "")])[0]
    if not oa_id:
        if any(value not in (None, "") for value in oa_fields):
            raise MalformedEvent("the event's OA id is not a Zalo id")
        oa_id, user_id = "", ""  # a shape naming no OA: the webhook attributes it by its signature
    if name in RECEIPTS and user_id and _PHONE.match(user_id):
        user_id = ""  # a ZNS receipt: the recipient is a phone number, not a Zalo user
    info = payload.get("info")
    admin_id = _id(sender.get("admin_id"))
    return (
        ZaloEvent(
            app_id=app_id,
            oa_id=oa_id,
            name=name,
            user_id=user_id or None,
            msg_id=_msg_id(message.get("msg_id")) or None,
            timestamp=timestamp,
            text=message.get("text") if isinstance(message.get("text"), str) else None,
            admin_id=admin_id or None,
            info=info if isinstance(info, dict) else None,
        ),
        payload,
    )


def clean_text(text: str) -> str:
    """What a patient wrote, safe for the bot and any database: lone surrogates and control characters (NUL
    among them) become U+FFFD, the replacement character; line breaks and tabs stay."""
    return _NOT_TEXT.sub("\ufffd", text)


def shared_phone(info: dict[str, Any] | None) -> str | None:
    """The phone of a user_submit_info event, in either of Zalo's two shapes (both carry ``phone``; the
    newer one nests the address in ``full_address``), as ``84…`` or ``0…``."""
    if not info:
        return None
    phone = info.get("phone")
    if isinstance(phone, bool) or not isinstance(phone, str | int):
        return None
    return clean_text(str(phone))[:40] or None


def _field(value: Any, name: str, limit: int) -> str:
    text = _scalar(value)
    if not text:
        raise MalformedEvent("app_id, event_name and timestamp are required")
    if len(text) > limit or _NOT_TEXT.search(text):
        raise MalformedEvent(f"{name} is not a Zalo {name}")
    return text


def _id(value: Any) -> str:
    """A Zalo id (digits or hex, at most 40 characters), else "" (treated as absent)."""
    text = _scalar(value)
    return text if len(text) <= MAX_ID and _ID.match(text) else ""


def _msg_id(value: Any) -> str:
    """Message ids become part of the dedupe key: any printable text (the console test sends "This is
    message id"), at most 500 characters; anything else counts as absent."""
    text = _scalar(value)
    return text if len(text) <= 500 and not _NOT_TEXT.search(text) else ""


def _scalar(value: Any) -> str:
    """Zalo sends ids and timestamps as strings; accept integers too, never anything else."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) < 10**40 else ""
    return ""


def _dig(payload: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = payload
    for step in path:
        value = _obj(value).get(step)
    return value


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


MS_THRESHOLD = 10**11  # 1e11 ms is 1973, 1e11 s is year 5138: at or above it the value is milliseconds


def event_time(timestamp: str) -> dt.datetime | None:
    """When Zalo says the event happened (UTC), or None when ``timestamp`` is not a number (the console's test
    button sends placeholders). Zalo sends milliseconds as a string; a value below 10^11 is read as seconds
    (10 digits: a Unix time in seconds; the 11-12 digit samples of Zalo's docs are truncated milliseconds and
    come out far in the past either way)."""
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        return None
    value = int(text)
    seconds = value / 1000 if value >= MS_THRESHOLD else float(value)
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
