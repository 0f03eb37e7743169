"""``/_sim/...``: look at and steer the simulated Zalo (tests, benchmarks and the chat page)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from .context import current_simulator
from .state import MessageFilter

PHONE = re.compile(r"^84\d{8,10}$")
MESSAGE_KINDS = ("cs", "zns")
MAX_WAIT_SECONDS = 60

blueprint = Blueprint("sim_control", __name__, url_prefix="/_sim")


class BadRequest(ValueError):
    """A control request that cannot be carried out; answered 400 with ``{"error": ...}``."""


def bad_request(exc: Exception) -> ResponseReturnValue:
    return jsonify({"error": str(exc)}), 400


@blueprint.get("/oas")
def oas() -> ResponseReturnValue:
    return jsonify({"oas": [oa.public() for oa in current_simulator().config.oas]})


@blueprint.get("/messages")
def messages() -> ResponseReturnValue:
    """What the OA sent (``/cs`` and ZNS), in arrival order; filters ``oa_id, user_id, phone, kind, after``.
    ``wait`` (seconds, at most 60) holds the answer until a message passes the filters (a long poll)."""
    args = request.args
    kind = args.get("kind") or None
    if kind not in (None, *MESSAGE_KINDS):
        raise BadRequest("kind must be cs or zns")
    try:
        after = int(args.get("after") or 0)
    except ValueError as exc:
        raise BadRequest("after must be a sequence number") from exc
    try:
        wait = float(args.get("wait") or 0)
    except ValueError as exc:
        raise BadRequest("wait must be a number of seconds") from exc
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise BadRequest(f"wait must be between 0 and {MAX_WAIT_SECONDS} seconds")
    query = MessageFilter(
        oa_id=args.get("oa_id") or None,
        user_id=args.get("user_id") or None,
        phone=args.get("phone") or None,
        kind=kind,
        after=after,
    )
    return jsonify({"messages": current_simulator().store.messages(query, wait)})


@blueprint.get("/conversation")
def conversation() -> ResponseReturnValue:
    """One user's conversation, oldest first, with ``last_seq`` to poll ``/messages`` from."""
    oa_id, user_id = _required(request.args, "oa_id"), _required(request.args, "user_id")
    store = current_simulator().store
    return jsonify({"conversation": store.conversation(oa_id, user_id), "last_seq": store.last_seq()})


@blueprint.get("/stats")
def stats() -> ResponseReturnValue:
    return jsonify(current_simulator().stats())


@blueprint.post("/reset")
def reset() -> ResponseReturnValue:
    current_simulator().reset()
    return jsonify({"ok": True})


@blueprint.post("/tokens")
def seed_tokens() -> ResponseReturnValue:
    """``{"oa_id", "access_token", "refresh_token", "expires_in"}``: both tokens valid from now on."""
    body = _body()
    oa_id = _oa_id(body)
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not any(isinstance(value, str) and value for value in (access, refresh)):
        raise BadRequest("access_token or refresh_token is required")
    expires_in = body.get("expires_in", current_simulator().config.access_token_ttl)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        raise BadRequest("expires_in must be a number of seconds")
    current_simulator().tokens.seed(oa_id, access or None, refresh or None, int(expires_in))
    return jsonify({"ok": True})


@blueprint.get("/users")
def users() -> ResponseReturnValue:
    return jsonify({"users": current_simulator().store.users(_required(request.args, "oa_id"))})


@blueprint.post("/users")
def register_user() -> ResponseReturnValue:
    """``{"oa_id", "user_id", "display_name", "phone" (optional, 84...), "follower" (default true)}``."""
    body = _body()
    simulator = current_simulator()
    oa = simulator.config.oa(_oa_id(body))
    assert oa is not None
    user_id = _required(body, "user_id")
    phone = body.get("phone")
    if phone is not None and (not isinstance(phone, str) or not PHONE.match(phone)):
        raise BadRequest("phone must be 84 followed by the subscriber number")
    follower = body.get("follower", True)
    if not isinstance(follower, bool):
        raise BadRequest("follower must be true or false")
    display_name = body.get("display_name")
    user = simulator.store.register_user(
        oa.oa_id,
        oa.app_id,
        user_id,
        display_name=display_name if isinstance(display_name, str) else None,
        phone=phone,
        follower=follower,
    )
    return jsonify({"user": user})


@blueprint.get("/faults")
def faults() -> ResponseReturnValue:
    return jsonify({"faults": current_simulator().faults.pending()})


@blueprint.post("/faults")
def add_fault() -> ResponseReturnValue:
    fault = current_simulator().faults.add(_body())
    return jsonify({"fault": fault.describe()})


@blueprint.delete("/faults")
def clear_faults() -> ResponseReturnValue:
    current_simulator().faults.clear()
    return jsonify({"ok": True})


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _required(data: Any, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} is required")
    return value


def _oa_id(body: dict[str, Any]) -> str:
    oa_id = _required(body, "oa_id")
    if current_simulator().config.oa(oa_id) is None:
        raise BadRequest(f"unknown oa_id {oa_id}")
    return oa_id
