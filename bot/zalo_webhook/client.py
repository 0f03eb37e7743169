"""The Zalo OpenAPI client (requests): chat messages, ZNS, user details, tags, conversation, tokens.

The same code talks to Zalo in production and to the simulator in development and tests: only the three
base URLs differ (configuration). Every reply is checked for Zalo's envelope: errors arrive with HTTP 200
and a non-zero ``error``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from .messages import OutgoingMessage, numbered_menu

RATE_LIMITED = -32
TOKEN_INVALID = -216
TOKEN_EXPIRED = -220
OUTSIDE_WINDOW = (-230, -232)
INVALID_FIELD = -201


class ZaloError(Exception):
    """Base of what the client raises."""


class ZaloTransportError(ZaloError):
    """No usable answer: network error, time-out, 5xx or a body that is not Zalo's JSON. Worth retrying."""


class ZaloApiError(ZaloError):
    """Zalo answered with a non-zero ``error``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code == RATE_LIMITED

    @property
    def token_problem(self) -> bool:
        return self.code in (TOKEN_INVALID, TOKEN_EXPIRED)

    @property
    def window_closed(self) -> bool:
        return self.code in OUTSIDE_WINDOW


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds


class ZaloClient:
    def __init__(
        self,
        *,
        api_base: str,
        zns_base: str,
        oauth_base: str,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.zns_base = zns_base.rstrip("/")
        self.oauth_base = oauth_base.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()

    # --- messages -----------------------------------------------------------------------------------------
    def send_message(self, token: str, user_id: str, message: OutgoingMessage, *, buttons: bool = True) -> str:
        """A consultation (chat) message; returns Zalo's message id. ``buttons=False`` sends the choices as
        a numbered text menu only."""
        body = {"recipient": {"user_id": user_id}, "message": cs_message(message, buttons=buttons)}
        data = self._call("POST", self.api_base + "/v3.0/oa/message/cs", token, json_body=body)
        return _message_id(data, "message_id")

    def send_zns(self, token: str, phone: str, template_id: str, data: dict[str, str], tracking_id: str) -> str:
        """A ZNS template message to a phone (``84…``); returns Zalo's ``msg_id``."""
        body = {
            "phone": phone.removeprefix("+"),
            "template_id": template_id,
            "template_data": data,
            "tracking_id": tracking_id[:48],
        }
        return _message_id(self._call("POST", self.zns_base + "/message/template", token, json_body=body), "msg_id")

    def template_info(self, token: str, template_id: str) -> dict[str, Any]:
        return self._call("GET", self.zns_base + "/template/info/v2", token, params={"template_id": template_id})

    # --- users ----------------------------------------------------------------------------------------------
    def user_detail(self, token: str, user_id: str) -> dict[str, Any]:
        return self._call("GET", self.api_base + "/v3.0/oa/user/detail", token, query={"user_id": user_id})

    def conversation(self, token: str, user_id: str, count: int = 10) -> list[dict[str, Any]]:
        """The latest messages between the OA and the user, newest first."""
        data = self._call(
            "GET",
            self.api_base + "/v2.0/oa/conversation",
            token,
            query={"user_id": user_id, "offset": 0, "count": count},
        )
        return list(data or [])

    def tag_follower(self, token: str, user_id: str, tag: str) -> None:
        self._call(
            "POST", self.api_base + "/v2.0/oa/tag/tagfollower", token, json_body={"user_id": user_id, "tag_name": tag}
        )

    def untag_follower(self, token: str, user_id: str, tag: str) -> None:
        self._call(
            "POST",
            self.api_base + "/v2.0/oa/tag/rmfollowerfromtag",
            token,
            json_body={"user_id": user_id, "tag_name": tag},
        )

    def tags(self, token: str) -> list[str]:
        return list(self._call("GET", self.api_base + "/v2.0/oa/tag/gettagsofoa", token) or [])

    # --- tokens ---------------------------------------------------------------------------------------------
    def refresh_token(self, app_id: str, app_secret: str, refresh_token: str) -> TokenPair:
        """Trade a refresh token (it works once) for a new access and refresh token."""
        try:
            response = self.http.post(
                self.oauth_base + "/v4/oa/access_token",
                data={"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"},
                headers={"secret_key": app_secret},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise ZaloTransportError(f"token refresh: {type(error).__name__}") from None
        body = _json(response)
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
            why = str(body.get("error_name") or body.get("message") or "reply without access_token and refresh_token")
            raise ZaloApiError(_code(body.get("error"), -1) or -1, why)
        return TokenPair(access, refresh, _code(body.get("expires_in"), 90000) or 90000)

    # --- plumbing -------------------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        url: str,
        token: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        if query is not None:  # Zalo's GET endpoints take one JSON parameter named data
            params = {**(params or {}), "data": json.dumps(query, separators=(",", ":"))}
        try:
            response = self.http.request(
                method, url, json=json_body, params=params, headers={"access_token": token}, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise ZaloTransportError(f"{method} {url}: {type(error).__name__}") from None
        body = _json(response)
        code = _code(body.get("error", 0), -1)
        if code != 0:
            raise ZaloApiError(code, str(body.get("message", "")))
        return body.get("data")


def cs_message(message: OutgoingMessage, *, buttons: bool = True) -> dict[str, Any]:
    """The ``message`` object of a chat message. Choices are always written as a numbered menu in the text
    (the bot understands "1", "2" …), and also attached as tappable buttons when ``buttons``."""
    if message.request_phone:
        return {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "request_user_info",
                    "elements": [
                        {
                            "title": "Chia sẻ số điện thoại",
                            "subtitle": message.text or "Dạ, anh/chị bấm để chia sẻ số điện thoại với bệnh viện ạ.",
                            "image_url": "",
                        }
                    ],
                },
            }
        }
    text = numbered_menu(message.text, message.buttons)
    if not (buttons and message.buttons):
        return {"text": text}
    return {
        "text": text,
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "buttons": [
                    {"title": b.title[:100], "type": "oa.query.show", "payload": b.payload} for b in message.buttons
                ],
            },
        },
    }


def _json(response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise ZaloTransportError(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise ZaloTransportError(f"HTTP {response.status_code}: not JSON") from None
    if not isinstance(body, dict):
        raise ZaloTransportError("reply is not a JSON object")
    return body


MAX_MESSAGE_ID = 64  # zalo_outbox.zalo_message_id


def _message_id(data: Any, key: str) -> str:
    """The id Zalo gave a message it accepted. A success without a usable one (missing, not a string or number,
    longer than the column) is treated as a lost answer: the message may have gone out, and the in-doubt
    look-up of the conversation finds it and its id (so its echo is still recognised as ours)."""
    value = data.get(key) if isinstance(data, dict) else None
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text or len(text) > MAX_MESSAGE_ID:
        raise ZaloTransportError(f"accepted without a usable {key}")
    return text


def _code(value: Any, default: int) -> int:
    """Zalo's numbers (error codes, expires_in) come as numbers or strings of digits; anything else: default."""
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
