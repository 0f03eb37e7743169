"""Zalo's Graph API host (``graph.zalo.me``): who the holder of a Zalo *user* access token is.

A Zalo Mini App gets the user's access token from the Mini App SDK (``getAccessToken``) and sends it to its
server, which asks ``GET /v2.0/me?fields=id,name,picture`` with header ``access_token``: the reply is
``{"id", "name", "picture": {"data": {"url"}}}`` (the id is the user's id for the app); an unknown, revoked
or expired token is answered with HTTP 200 and ``{"error": 452, "message": "Session key invalid…"}``.

Tokens of simulated users are handed out by the control endpoint ``POST /_sim/graph/tokens``
(``{"user_id", "name" (optional), "expires_in" (seconds, optional)}``) and withdrawn by
``DELETE /_sim/graph/tokens`` (``{"access_token"}``).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from .control import BadRequest, _body, _required
from .gateway import zalo_endpoint

SESSION_INVALID = 452
SESSION_INVALID_MESSAGE = (
    "Session key invalid. This could be because the session key has an incorrect format, "
    "or because the user has revoked this session"
)
DEFAULT_TTL_SECONDS = 3600
EXTENSION_KEY = "zalo_simulator_graph"

blueprint = Blueprint("zalo_graph", __name__)


@dataclass(frozen=True)
class GraphUser:
    user_id: str
    name: str
    expires_at: float  # time.monotonic()


class UserTokens:
    """The user access tokens the simulated Zalo has issued (thread-safe: gunicorn runs threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, GraphUser] = {}

    def issue(self, user_id: str, name: str, ttl: float) -> str:
        token = "usr-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = GraphUser(user_id, name, time.monotonic() + ttl)
        return token

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._tokens.pop(token, None) is not None

    def holder(self, token: str | None) -> GraphUser | None:
        with self._lock:
            user = self._tokens.get(token or "")
        if user is None or user.expires_at <= time.monotonic():
            return None
        return user


def user_tokens() -> UserTokens:
    return current_app.extensions.setdefault(EXTENSION_KEY, UserTokens())


@blueprint.get("/v2.0/me")
@zalo_endpoint()
def me() -> ResponseReturnValue:
    user = user_tokens().holder(request.headers.get("access_token"))
    if user is None:
        return jsonify({"error": SESSION_INVALID, "message": SESSION_INVALID_MESSAGE})
    fields = [f.strip() for f in (request.args.get("fields") or "id").split(",")]
    reply: dict[str, object] = {"id": user.user_id}
    if "name" in fields:
        reply["name"] = user.name
    if "picture" in fields:
        reply["picture"] = {"data": {"url": f"https://s120-ava-talk.zadn.vn/sim/{user.user_id}.jpg"}}
    return jsonify(reply)


@blueprint.post("/_sim/graph/tokens")
def issue_token() -> ResponseReturnValue:
    body = _body()
    user_id = _required(body, "user_id")
    name = body.get("name") or f"Người dùng {user_id[-4:]}"
    ttl = body.get("expires_in", DEFAULT_TTL_SECONDS)
    if not isinstance(name, str):
        raise BadRequest("name must be a string")
    if not isinstance(ttl, int | float) or isinstance(ttl, bool) or not 0 < ttl <= 90 * 24 * 3600:
        raise BadRequest("expires_in must be a number of seconds (at most 90 days)")
    token = user_tokens().issue(user_id, name, float(ttl))
    return jsonify({"access_token": token, "expires_in": ttl, "user_id": user_id})


@blueprint.delete("/_sim/graph/tokens")
def revoke_token() -> ResponseReturnValue:
    return jsonify({"revoked": user_tokens().revoke(_required(_body(), "access_token"))})
