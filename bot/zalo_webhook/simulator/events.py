"""User events as Zalo posts them to the webhook: built, serialised once, signed over those exact bytes.

``build_event`` follows shared/zalo-api.md field by field; options it does not use are copied to the top
level of the event, so tests can add odd fields and unknown event names pass through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from bot.zalo_webhook.signature import HEADER, header_value

from .config import SimulatedOA
from .ids import hex_id, now_ms
from .state import OA_SENT, USER_SENT

# user_send_<kind> -> the attachment type Zalo puts in message.attachments, and the conversation type
ATTACHMENT_KINDS: dict[str, str] = {
    "image": "photo",
    "gif": "gif",
    "sticker": "sticker",
    "audio": "voice",
    "video": "video",
    "file": "file",
    "link": "link",
    "location": "location",
}
FOLLOW_EVENTS = {"follow": True, "unfollow": False}
DEFAULT_PHONE = "84912345678"


@dataclass(frozen=True)
class Effects:
    """What an event changes in the simulated Zalo besides being posted."""

    user_interaction: bool = False
    follower: bool | None = None
    shared_info: dict[str, Any] | None = None
    conversation_src: int | None = None
    conversation_type: str = "text"
    conversation_text: str = ""
    message_id: str = ""


def build_event(oa: SimulatedOA, user: dict[str, Any], event_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The event Zalo would post; ``options`` holds the request's remaining fields and is consumed."""
    opts = dict(options)
    timestamp = str(opts.pop("timestamp", None) or now_ms())
    user_id = user["user_id"]
    common = {"app_id": oa.app_id, "user_id_by_app": user["user_id_by_app"], "event_name": event_name}
    from_user = {"sender": {"id": user_id}, "recipient": {"id": oa.oa_id}}
    if event_name == "user_send_text":
        message = {"text": str(opts.pop("text", "")), "msg_id": str(opts.pop("msg_id", None) or hex_id())}
        event = {**common, **from_user, "message": message}
    elif event_name.startswith("user_send_"):
        event = {**common, **from_user, "message": _attachment_message(event_name.removeprefix("user_send_"), opts)}
    elif event_name in FOLLOW_EVENTS:
        source = opts.pop("source", "oa_profile")
        event = {**common, "oa_id": oa.oa_id, "follower": {"id": user_id}, "source": source}
    elif event_name == "user_click_chatnow":
        event = {**common, "oa_id": oa.oa_id, "user_id": user_id}
    elif event_name == "user_submit_info":
        event = {**common, **from_user, "info": _info(user, opts)}
    elif event_name.startswith("oa_send_"):
        sender = _oa_sender(oa, opts)
        event = {**common, "sender": sender, "recipient": {"id": user_id}, "message": _oa_message(event_name, opts)}
    elif event_name == "user_received_message":
        message = {"msg_id": str(opts.pop("msg_id", None) or hex_id()), "delivery_time": timestamp}
        if "tracking_id" in opts:
            message["tracking_id"] = opts.pop("tracking_id")
        event = {**common, "sender": {"id": oa.oa_id}, "recipient": {"id": user_id}, "message": message}
    elif event_name == "user_seen_message":  # a receipt: the OA is the sender, as in Zalo's real bodies
        message = {"msg_ids": [str(m) for m in opts.pop("msg_ids", [])]}
        event = {**common, "sender": {"id": oa.oa_id}, "recipient": {"id": user_id}, "message": message}
    else:  # user_withdraw, user_reacted_message, tag events, anything unknown
        event = {**common, **from_user}
    event["timestamp"] = timestamp
    event.update(opts)
    return event


def _attachment_message(kind: str, opts: dict[str, Any]) -> dict[str, Any]:
    msg_id = str(opts.pop("msg_id", None) or hex_id())
    attachments = opts.pop("attachments", None)
    if attachments is None:
        url = str(opts.pop("url", f"https://simulator.zalo.invalid/{kind}/{msg_id}"))
        if kind == "location":
            payload: dict[str, Any] = {"coordinates": {"latitude": "10.7769", "longitude": "106.7009"}}
        elif kind == "sticker":
            payload = {"id": msg_id[:8], "url": url}
        elif kind == "file":  # as Zalo sends it: the size is a string, and there is no text
            name = str(opts.pop("name", "tai-lieu.pdf"))
            size = str(opts.pop("size", "482113"))
            payload = {"url": url, "size": size, "name": name, "checksum": msg_id, "type": name.rsplit(".", 1)[-1]}
        else:
            payload = {"url": url, "thumbnail": url}
        attachments = [{"type": kind, "payload": payload}]
    message: dict[str, Any] = {"msg_id": msg_id, "attachments": attachments}
    if "text" in opts:
        message["text"] = str(opts.pop("text"))
    return message


def _info(user: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    """Both shapes Zalo has used: flat (``shape: flat``, default) and newer (``shape: new``)."""
    shape = opts.pop("shape", "flat")
    given = dict(opts.pop("info", None) or {})
    name = given.pop("name", None) or opts.pop("name", None) or user["display_name"]
    phone = given.pop("phone", None) or opts.pop("phone", None) or user.get("phone") or DEFAULT_PHONE
    if shape == "new":
        full_address = {"address": "", "ward": "", "district": "", "city": ""}
        full_address.update(given.pop("full_address", None) or {})
        info = {"name": name, "phone": phone, "user_dob": "", "gender": "", "full_address": full_address}
    else:
        info = {"address": "", "phone": phone, "city": "", "district": "", "name": name, "ward": ""}
    info.update(given)
    return info


def _oa_message(event_name: str, opts: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"msg_id": str(opts.pop("msg_id", None) or hex_id())}
    if event_name == "oa_send_text":
        message["text"] = str(opts.pop("text", ""))
    return message


def _oa_sender(oa: SimulatedOA, opts: dict[str, Any]) -> dict[str, str]:
    """The OA, as in every real echo (none carries ``admin_id``); pass ``admin_id`` to add one anyway, as some
    third-party tools document it."""
    admin_id = opts.pop("admin_id", None)
    return {"id": oa.oa_id, "admin_id": str(admin_id)} if admin_id else {"id": oa.oa_id}


def echo_name(message: dict[str, Any]) -> str:
    """The ``oa_send_*`` event Zalo echoes for a message the OA sent through ``/cs``."""
    attachment = message.get("attachment") if isinstance(message.get("attachment"), dict) else {}
    if attachment.get("type") == "file":
        return "oa_send_file"
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
    if payload.get("template_type") == "media":
        return "oa_send_image"
    if payload.get("template_type") == "request_user_info":
        return "oa_send_list"
    return "oa_send_text"


def effects_of(event: dict[str, Any]) -> Effects:
    name = str(event.get("event_name", ""))
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    msg_id = str(message.get("msg_id", ""))
    if name == "user_send_text":
        return Effects(
            user_interaction=True, conversation_src=USER_SENT, conversation_text=message["text"], message_id=msg_id
        )
    if name.startswith("user_send_"):
        kind = ATTACHMENT_KINDS.get(name.removeprefix("user_send_"), "nosupport")
        text = str(message.get("text", ""))
        return Effects(
            user_interaction=True,
            conversation_src=USER_SENT,
            conversation_type=kind,
            conversation_text=text,
            message_id=msg_id,
        )
    if name in FOLLOW_EVENTS:
        return Effects(user_interaction=True, follower=FOLLOW_EVENTS[name])
    if name == "user_submit_info":
        return Effects(user_interaction=True, shared_info=flatten_info(event["info"]))
    if name == "oa_send_text":
        return Effects(conversation_src=OA_SENT, conversation_text=message["text"], message_id=msg_id)
    return Effects(user_interaction=name.startswith("user_") and name != "user_received_message")


def flatten_info(info: dict[str, Any]) -> dict[str, Any]:
    """The user's shared info as user detail shows it, whichever shape the event had."""
    flat = {key: value for key, value in info.items() if key != "full_address"}
    if isinstance(info.get("full_address"), dict):
        flat.update(info["full_address"])
    return flat


def encode(event: dict[str, Any]) -> bytes:
    """Serialise once; these exact bytes are signed and sent."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signing_fields(body: bytes, oa: SimulatedOA) -> tuple[str, str]:
    """``app_id`` and ``timestamp`` as the webhook will read them from the body (the OA's for a non-JSON body)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return oa.app_id, ""
    return str(parsed.get("app_id", "")), str(parsed.get("timestamp", ""))


def webhook_headers(body: bytes, oa: SimulatedOA, *, sign: bool = True, secret: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "ZaloWebhookSimulator/1.0"}
    if sign:
        app_id, timestamp = signing_fields(body, oa)
        headers[HEADER] = header_value(app_id, body, timestamp, oa.oa_secret_key if secret is None else secret)
    return headers


@dataclass(frozen=True)
class Delivery:
    status: int | None
    error: str | None = None
    response: str = ""


def deliver(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
    """POST to the webhook; a network failure is reported, never raised."""
    try:
        reply = requests.post(url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return Delivery(None, f"{type(exc).__name__}: {exc}")
    return Delivery(reply.status_code, None, reply.text[:2000])
