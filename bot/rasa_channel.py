"""The REST channel the Zalo worker posts to (bot/credentials.yml), Rasa's own ``RestInput`` made exactly-once.

The worker sends each user message with ``metadata.message_id`` (one per inbox event) and ``metadata.retry``
when the message may have reached a Rasa server already: the previous worker stopped after asking, or the server
stopped (or went silent) while answering. Every Rasa server shares the tracker store, so a message that the
conversation already holds is not handled again, whether marked retry or not (a slow original may reach a
server after its retry was handled on another): its answer is read back from the conversation (the bot's
messages that followed it). A message seen for the first time is handled as Rasa's REST channel does, its id
kept on the user event; the look-up and the handling are one section under the conversation's lock. Rasa's
REST channel cannot be told a message id, hence the subclass.

Runs in the Rasa environment.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)
MESSAGE_ID = re.compile(r"^[A-Za-z0-9:_-]{1,64}$")


class ExactlyOnceRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender_id, text = body.get("sender"), body.get("message")
            if not (isinstance(sender_id, str) and sender_id and isinstance(text, str)):
                return response.json({"error": "send a JSON object with string sender and message"}, status=400)
            metadata = self.get_metadata(request)
            if not isinstance(metadata, dict):
                metadata = {}
            message_id = metadata.get("message_id")
            if not (isinstance(message_id, str) and MESSAGE_ID.match(message_id)):
                message_id = None
            agent = request.app.ctx.agent
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender_id,
                input_channel=self._extract_input_channel(request),
                message_id=message_id,
                metadata=metadata,
            )
            try:
                # Shielded: a worker that gave up waiting closes the connection and Sanic cancels this handler;
                # the message is still handled to its end and saved, so the retry finds it and is answered from it.
                if message_id:
                    answered = await asyncio.shield(handle_once(agent, message))
                else:
                    answered = None
                    await asyncio.shield(on_new_message(message))
            except asyncio.CancelledError:
                raise
            except Exception:
                # e.g. the tracker store's database went away: the turn may not be saved, so nothing of it is
                # answered; the worker asks again (and is answered from the conversation if it was saved).
                log.exception("handling message %s failed", message_id or "(no id)")
                return response.json({"error": "handling_failed"}, status=503)
            if answered is not None:
                log.info("message %s was handled before: answered from the conversation", message_id)
                return response.json(answered)
            return response.json(collector.messages)

        return webhook


async def handle_once(agent: Any, message: UserMessage) -> list[dict[str, Any]] | None:
    """Handle ``message`` unless the conversation already holds it (a retry, or the original reaching this
    server after its retry was handled elsewhere): then return the bot's answer to it, read from the
    conversation. The look-up and the handling are one section under the conversation's lock, so a server
    still handling the message (slow, not stopped) finishes first, and no two servers handle it."""
    async with agent.lock_store.lock(message.sender_id):
        answered = await answered_before(agent, message.sender_id, message.message_id)
        if answered is None:
            await agent.processor.handle_message(message)  # what Agent.handle_message does inside its lock
        return answered


async def answered_before(agent: Any, sender_id: str, message_id: str) -> list[dict[str, Any]] | None:
    """The bot's answer to the user message ``message_id`` when the conversation already holds it, else None.
    The caller holds the conversation's lock."""
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None:
        return None
    events = list(tracker.events)
    at = next(
        (i for i, e in enumerate(events) if isinstance(e, UserUttered) and e.message_id == message_id),
        None,
    )
    if at is None:
        return None
    answer: list[dict[str, Any]] = []
    for event in events[at + 1 :]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            sent = {key: value for key, value in (event.data or {}).items() if value}
            answer.append({"recipient_id": sender_id, **({"text": event.text} if event.text else {}), **sent})
    return answer
