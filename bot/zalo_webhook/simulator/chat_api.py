"""``/_sim/chat/...``: act as a Zalo user (or OA staff) and post the resulting signed event to the webhook."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from .config import SimulatedOA
from .context import Simulator, current_simulator
from .control import BadRequest
from .events import Effects, build_event, deliver, effects_of, encode, webhook_headers

CONTROL_KEYS = ("oa_id", "user_id", "event_name", "raw", "body", "sign", "secret", "repeat")
MAX_REPEAT = 10

blueprint = Blueprint("sim_chat", __name__, url_prefix="/_sim/chat")


@blueprint.post("/send")
def send_text() -> ResponseReturnValue:
    """``{"oa_id", "user_id", "text"}``: the user types a message."""
    body = _body()
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise BadRequest("text is required")
    return _post_event({**body, "event_name": "user_send_text"})


@blueprint.post("/staff-reply")
def staff_reply() -> ResponseReturnValue:
    """``{"oa_id", "user_id", "text"}`` (``admin_id`` optional): a staff member answers from Zalo's OA inbox.
    The user sees the message, and the webhook gets its ``oa_send_text`` echo, with a msg_id that no send call
    of the assistant was given."""
    body = _body()
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise BadRequest("text is required")
    return _post_event({**body, "event_name": "oa_send_text"})


@blueprint.post("/event")
def send_event() -> ResponseReturnValue:
    """``{"oa_id", "user_id", "event_name", ...}``; ``raw``+``body``, ``sign: false``, ``secret``, ``repeat``."""
    body = _body()
    if not isinstance(body.get("event_name"), str) and not body.get("raw"):
        raise BadRequest("event_name is required")
    return _post_event(body)


def _post_event(spec: dict[str, Any]) -> ResponseReturnValue:
    simulator = current_simulator()
    oa = simulator.config.oa(str(spec.get("oa_id", "")))
    if oa is None:
        raise BadRequest("unknown oa_id")
    repeat = spec.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise BadRequest(f"repeat must be 1 to {MAX_REPEAT}")
    if spec.get("raw"):
        raw = spec.get("body")
        if not isinstance(raw, str):
            raise BadRequest("raw needs body, a string")
        event: dict[str, Any] | None = None
        payload = raw.encode("utf-8")
    else:
        user_id = spec.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise BadRequest("user_id is required")
        user = simulator.store.register_user(oa.oa_id, oa.app_id, user_id)
        options = {key: value for key, value in spec.items() if key not in CONTROL_KEYS}
        event = build_event(oa, user, str(spec["event_name"]), options)
        _apply(simulator, oa, user_id, effects_of(event))
        payload = encode(event)
    secret = None if spec.get("secret") is None else str(spec["secret"])
    headers = webhook_headers(payload, oa, sign=spec.get("sign", True) is not False, secret=secret)
    deliveries = []
    for attempt in range(repeat):
        attempt_headers = {**headers, "num_retry": str(attempt)} if attempt else headers
        delivery = deliver(simulator.config.webhook_url, payload, attempt_headers, simulator.config.webhook_timeout)
        simulator.store.count_webhook(delivery.status is not None)
        deliveries.append(delivery)
    last = deliveries[-1]
    reply: dict[str, Any] = {"status": last.status, "event": event, "response": last.response}
    if repeat > 1:
        reply["statuses"] = [delivery.status for delivery in deliveries]
    if last.status is None:
        reply["error"] = last.error
        return jsonify(reply), 502
    return jsonify(reply)


def _apply(simulator: Simulator, oa: SimulatedOA, user_id: str, effects: Effects) -> None:
    if effects.user_interaction:
        simulator.store.interact(
            oa.oa_id, oa.app_id, user_id, follower=effects.follower, shared_info=effects.shared_info
        )
    if effects.conversation_src is not None:
        simulator.store.converse(
            oa.oa_id,
            user_id,
            src=effects.conversation_src,
            kind=effects.conversation_type,
            text=effects.conversation_text,
            message_id=effects.message_id,
        )


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body
