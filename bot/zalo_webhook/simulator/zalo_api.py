"""The OA API (``openapi.zalo.me``): consultation messages, user detail, tags and conversation history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from .codes import INVALID_PARAMETER, USER_NOT_FOUND, ZaloError, success
from .context import Simulator, current_simulator
from .events import build_event, deliver, echo_name, encode, webhook_headers
from .gateway import data_param, json_body, require_token, zalo_endpoint
from .shapes import check_cs_message, check_recipient

MAX_CONVERSATION_COUNT = 10
PUBLIC_CONVERSATION_FIELDS = ("message_id", "src", "time", "type", "message", "from_id", "to_id")

blueprint = Blueprint("zalo_oa_api", __name__)


@blueprint.post("/v3.0/oa/message/cs")
@zalo_endpoint()
def send_consultation() -> dict[str, Any]:
    simulator = current_simulator()
    oa_id = require_token()
    body = json_body()
    user_id = check_recipient(body)
    check_cs_message(body.get("message"), simulator.config.max_buttons)
    record = simulator.store.record_cs(oa_id, user_id, body["message"])
    if simulator.config.echo_oa_messages:
        echo_oa_message(simulator, oa_id, user_id, body["message"], record["message_id"])
    return success({"message_id": record["message_id"], "user_id": user_id})


@blueprint.get("/v3.0/oa/user/detail")
@zalo_endpoint()
def user_detail() -> dict[str, Any]:
    oa_id = require_token()
    user_id = _user_id(data_param())
    user = current_simulator().store.user(oa_id, user_id)
    if user is None:
        raise ZaloError(USER_NOT_FOUND, f"no user {user_id} for this OA")
    return success(
        {
            "user_id": user["user_id"],
            "user_id_by_app": user["user_id_by_app"],
            "display_name": user["display_name"],
            "user_alias": "",
            "avatar": "",
            "avatars": {},
            "user_is_follower": user["follower"],
            "user_last_interaction_date": user["last_interaction_date"],
            "shared_info": user["shared_info"],
            "tags_and_notes_info": {"tag_names": user["tags"], "notes": []},
        }
    )


@blueprint.post("/v2.0/oa/tag/tagfollower")
@zalo_endpoint()
def tag_follower() -> dict[str, Any]:
    oa_id = require_token()
    body = json_body()
    user_id, tag_name = _user_id(body), _tag_name(body)
    if not current_simulator().store.tag(oa_id, user_id, tag_name):
        raise ZaloError(USER_NOT_FOUND, f"no user {user_id} for this OA")
    return success({})


@blueprint.post("/v2.0/oa/tag/rmfollowerfromtag")
@zalo_endpoint()
def untag_follower() -> dict[str, Any]:
    oa_id = require_token()
    body = json_body()
    user_id, tag_name = _user_id(body), _tag_name(body)
    if not current_simulator().store.untag(oa_id, user_id, tag_name):
        raise ZaloError(USER_NOT_FOUND, f"no user {user_id} for this OA")
    return success({})


@blueprint.get("/v2.0/oa/tag/gettagsofoa")
@zalo_endpoint()
def tags_of_oa() -> dict[str, Any]:
    oa_id = require_token()
    return success(current_simulator().store.tags(oa_id))


@blueprint.post("/v2.0/oa/tag/rmtag")
@zalo_endpoint()
def remove_tag() -> dict[str, Any]:
    oa_id = require_token()
    current_simulator().store.remove_tag(oa_id, _tag_name(json_body()))
    return success({})


@blueprint.get("/v2.0/oa/conversation")
@zalo_endpoint()
def conversation() -> dict[str, Any]:
    """Newest first, ``count`` (at most 10) from ``offset``; both what the OA sent and what the user sent."""
    oa_id = require_token()
    data = data_param()
    user_id = _user_id(data)
    offset, count = data.get("offset", 0), data.get("count", MAX_CONVERSATION_COUNT)
    if not _int_in(offset, 0, None) or not _int_in(count, 1, MAX_CONVERSATION_COUNT):
        raise ZaloError(INVALID_PARAMETER, f"offset must be >= 0 and count 1 to {MAX_CONVERSATION_COUNT}")
    entries = list(reversed(current_simulator().store.conversation(oa_id, user_id)))[offset : offset + count]
    return success([{key: entry[key] for key in PUBLIC_CONVERSATION_FIELDS} for entry in entries])


def _user_id(data: dict[str, Any]) -> str:
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise ZaloError(INVALID_PARAMETER, "user_id is missing")
    return user_id


def _tag_name(data: dict[str, Any]) -> str:
    tag_name = data.get("tag_name")
    if not isinstance(tag_name, str) or not tag_name.strip():
        raise ZaloError(INVALID_PARAMETER, "tag_name is missing")
    return tag_name


def _int_in(value: Any, low: int, high: int | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def echo_oa_message(simulator: Simulator, oa_id: str, user_id: str, message: dict[str, Any], message_id: str) -> None:
    """Post the ``oa_send_*`` echo of a message the OA sent, with the id the send call answers (no admin_id)."""
    oa = simulator.config.oa(oa_id)
    if oa is None:
        return
    user = simulator.store.register_user(oa.oa_id, oa.app_id, user_id)
    options: dict[str, Any] = {"msg_id": message_id}
    if isinstance(message.get("text"), str):
        options["text"] = message["text"]
    payload = encode(build_event(oa, user, echo_name(message), options))
    config = simulator.config
    delivery = deliver(config.webhook_url, payload, webhook_headers(payload, oa), config.webhook_timeout)
    simulator.store.count_webhook(delivery.status is not None)
