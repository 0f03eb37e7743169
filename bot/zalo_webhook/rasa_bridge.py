"""The bot behind the channel: Rasa's REST channel (``POST /webhooks/rest/webhook``), and Rasa's HTTP API to
resume a conversation the bot paused (``POST /conversations/{id}/tracker/events``).

Rasa answers a user message with a list of responses (``text``, ``buttons``, ``image``, ``custom``); they
become Zalo messages. A custom payload ``{"request_phone": true}`` (or ``{"type": "request_user_info"}``)
asks the user to share their phone through Zalo's request-info card.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import requests

from .messages import MAX_BUTTONS, Button, OutgoingMessage

log = logging.getLogger(__name__)
# The events that resume a conversation the bot paused with ``ConversationPaused`` (Rasa 3.6).
RESUME = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]


class BotUnavailable(RuntimeError):
    """The bot did not answer in time or answered with an error."""


class Bot(Protocol):
    def reply(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[OutgoingMessage]: ...


class RasaBot:
    """The one client of the Rasa server: its REST channel and its HTTP API, with the server's token
    (``?token=``: bot/rasa_guard.py and Rasa's ``--auth-token`` refuse requests without)."""

    def __init__(
        self,
        url: str,
        timeout: float,
        session: requests.Session | None = None,
        *,
        token: str = "",
        resume_timeout: float = 5.0,
    ) -> None:
        self.base = url.rstrip("/")
        self.url = self.base + "/webhooks/rest/webhook"
        self.timeout = timeout
        self.resume_timeout = resume_timeout
        self.http = session or requests.Session()
        self.params = {"token": token} if token else {}
        self.token = token

    def reply(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[OutgoingMessage]:
        try:
            response = self.http.post(
                self.url,
                json={"sender": sender_id, "message": text, "metadata": metadata},
                params=self.params,
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise BotUnavailable(f"{type(error).__name__}") from None
        if response.status_code != 200:
            raise BotUnavailable(f"HTTP {response.status_code}")
        try:
            answers = response.json()
        except ValueError:
            raise BotUnavailable("reply is not JSON") from None
        if not isinstance(answers, list):
            raise BotUnavailable("reply is not a list")
        return to_messages(answers)

    def resume(self, conversation_id: str) -> None:
        """Resume the conversation the bot paused; BotUnavailable when Rasa cannot be reached or refuses."""
        try:
            response = self.http.post(
                f"{self.base}/conversations/{conversation_id}/tracker/events",
                json=RESUME,
                params={"include_events": "NONE", "token": self.token},
                timeout=self.resume_timeout,
            )
        except requests.RequestException as error:
            log.warning("hand-back: Rasa at %s unreachable (%s)", self.base, type(error).__name__)
            raise BotUnavailable(f"the assistant cannot be reached ({type(error).__name__})") from None
        if response.status_code != 200:
            raise BotUnavailable(f"Rasa refused the resume: HTTP {response.status_code}")


def to_messages(answers: list[Any]) -> list[OutgoingMessage]:
    """Rasa REST responses to outgoing messages (buttons join the text they came with)."""
    messages: list[OutgoingMessage] = []
    for answer in answers:
        if not isinstance(answer, dict):
            continue
        custom = answer.get("custom") if isinstance(answer.get("custom"), dict) else {}
        if custom.get("request_phone") or custom.get("type") == "request_user_info":
            messages.append(
                OutgoingMessage(text=str(custom.get("text") or answer.get("text") or ""), request_phone=True)
            )
            continue
        text = answer.get("text") if isinstance(answer.get("text"), str) else ""
        buttons = tuple(
            Button(title=str(b.get("title", ""))[:100], payload=str(b.get("payload", "")))
            for b in (answer.get("buttons") or [])[:MAX_BUTTONS]
            if isinstance(b, dict) and b.get("title")
        )
        if isinstance(answer.get("image"), str):
            text = f"{text}\n{answer['image']}".strip()
        if text or buttons:
            messages.append(OutgoingMessage(text=text, buttons=buttons))
    return messages
