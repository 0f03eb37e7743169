"""The bot behind the channel: Rasa's REST channel (``POST /webhooks/rest/webhook``), and Rasa's HTTP API to
resume a conversation the bot paused (``POST /conversations/{id}/tracker/events``).

Rasa answers a user message with a list of responses (``text``, ``buttons``, ``image``, ``custom``); they
become Zalo messages. A custom payload ``{"request_phone": true}`` (or ``{"type": "request_user_info"}``)
asks the user to share their phone through Zalo's request-info card.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any, Protocol

import requests

from core.config import url_list

from .messages import MAX_BUTTONS, Button, OutgoingMessage
from .metrics import RASA_REPLY_SECONDS

log = logging.getLogger(__name__)
# The events that resume a conversation the bot paused with ``ConversationPaused`` (Rasa 3.6).
RESUME = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]


class BotUnavailable(RuntimeError):
    """The bot did not answer in time or answered with an error."""


class NoRasaServer(BotUnavailable):
    """No Rasa server could be reached at all (refused, reset, or a proxy's 502/503/504): the message never
    reached a bot, so it may wait and be asked again later."""


class Bot(Protocol):
    def reply(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[OutgoingMessage]: ...


# A server that could not be reached is tried last for this long (others first).
COOL_DOWN_SECONDS = 10.0
UNREACHABLE_STATUS = frozenset({502, 503, 504})  # a proxy in front of a stopped server


def servers_for(sender_id: str, servers: list[str]) -> list[str]:
    """The servers in the order ``sender_id`` tries them: rendezvous hashing, so each user stays on one
    server (its cache) while it is up, and the users of a stopped server spread evenly over the others."""
    return sorted(servers, key=lambda url: hashlib.blake2b(f"{url}|{sender_id}".encode(), digest_size=8).digest())


class RasaBot:
    """The one client of the Rasa servers: their REST channel and HTTP API, with the servers' token
    (``?token=``: bot/rasa_guard.py and Rasa's ``--auth-token`` refuse requests without).

    ``url`` is one server or a comma-separated list. The servers share one tracker store and one lock store
    (bot/endpoints.yml), so any of them can carry on any conversation: a user is sent to its own server
    (``servers_for``) and, when that one cannot be reached, to the next. A message whose answer was lost
    (the server stopped while answering) is sent again marked ``retry``: the channel (bot/rasa_channel.py)
    answers it from the conversation when it was already handled, so it is never handled twice."""

    def __init__(
        self,
        url: str,
        timeout: float,
        session: requests.Session | None = None,
        *,
        token: str = "",
        resume_timeout: float = 5.0,
    ) -> None:
        self.servers = url_list(url)
        if not self.servers:
            raise ValueError("no Rasa server given")
        self.base = self.servers[0]
        self.timeout = timeout
        self.resume_timeout = resume_timeout
        self.http = session or requests.Session()
        # The Rasa servers are the deployment's own, never behind an outbound proxy: no proxy, netrc or CA
        # variables looked up at every message (a few per cent of a worker's CPU).
        self.http.trust_env = False
        self.params = {"token": token} if token else {}
        self.token = token
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def _ordered(self, sender_id: str) -> list[str]:
        """``servers_for`` with the servers that failed lately moved to the end."""
        now = time.monotonic()
        with self._lock:
            down = {url for url, until in self._down_until.items() if until > now}
        ordered = servers_for(sender_id, self.servers)
        return [u for u in ordered if u not in down] + [u for u in ordered if u in down]

    def _mark(self, server: str, up: bool) -> None:
        with self._lock:
            if up:
                self._down_until.pop(server, None)
            else:
                self._down_until[server] = time.monotonic() + COOL_DOWN_SECONDS

    def reply(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[OutgoingMessage]:
        failures: list[str] = []
        metadata = dict(metadata)
        for server in self._ordered(sender_id):
            started = time.perf_counter()
            try:
                response = self.http.post(
                    server + "/webhooks/rest/webhook",
                    json={"sender": sender_id, "message": text, "metadata": metadata},
                    params=self.params,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                # Refused: the server never saw it. Reset or timed out: it may have handled it; the next one
                # is told (retry) and answers from the conversation if so.
                failures.append(type(error).__name__)
                self._mark(server, up=False)
                metadata["retry"] = True
                continue
            except requests.RequestException as error:
                raise BotUnavailable(type(error).__name__) from None
            finally:
                RASA_REPLY_SECONDS.observe(time.perf_counter() - started)
            if response.status_code in UNREACHABLE_STATUS:
                failures.append(f"HTTP {response.status_code}")
                self._mark(server, up=False)
                metadata["retry"] = True
                continue
            self._mark(server, up=True)
            return _answers(response)
        raise NoRasaServer(f"no Rasa server answered ({', '.join(failures)})")

    def resume(self, conversation_id: str) -> None:
        """Resume the conversation the bot paused; BotUnavailable when no Rasa server can be reached or one
        refuses."""
        failures: list[str] = []
        for server in self._ordered(conversation_id):
            try:
                response = self.http.post(
                    f"{server}/conversations/{conversation_id}/tracker/events",
                    json=RESUME,
                    params={"include_events": "NONE", "token": self.token},
                    timeout=self.resume_timeout,
                )
            except requests.RequestException as error:
                failures.append(type(error).__name__)
                self._mark(server, up=False)
                continue
            if response.status_code in UNREACHABLE_STATUS:
                failures.append(f"HTTP {response.status_code}")
                continue
            if response.status_code != 200:
                raise BotUnavailable(f"Rasa refused the resume: HTTP {response.status_code}")
            return
        log.warning("hand-back: no Rasa server reachable (%s)", ", ".join(failures))
        raise BotUnavailable(f"the assistant cannot be reached ({', '.join(failures)})")


def _answers(response: requests.Response) -> list[OutgoingMessage]:
    if response.status_code != 200:
        raise BotUnavailable(f"HTTP {response.status_code}")
    try:
        answers = response.json()
    except ValueError:
        raise BotUnavailable("reply is not JSON") from None
    if not isinstance(answers, list):
        raise BotUnavailable("reply is not a list")
    return to_messages(answers)


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
