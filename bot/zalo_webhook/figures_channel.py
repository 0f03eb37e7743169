"""The channel's side of the figures (core/figures/channel.py's ``ChannelFigures``), read from the Zalo inbox,
the outbox and the bookings made in chat: plain numbers per hospital, no user id leaves this module.

How each is counted (the channel keeps no history of hand-offs, so the assistant's own words mark them):
- conversations: distinct users of the hospital's OAs who wrote (``user_send_*``) in the period;
- booked: of them, those whose Zalo account made an appointment through the chat (channel "zalo") then;
- not understood: the assistant's "I did not understand" answers (the fallback and the forms' re-asks), over the
  users' messages;
- hand-offs: conversations the assistant handed to staff (its hand-off, emergency, bot-down and no-answer
  messages), counted once per conversation and period;
- first reply: per hand-off, seconds from its first such message to the first console reply (purpose
  ``staff_reply``) to that user after it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Collection, Mapping

from sqlalchemy import or_, select

from core.booking.models import ACCOUNTS, APPOINTMENTS, PATIENTS
from core.figures.channel import AssistantDay, Delivery
from core.timeutil import ensure_utc
from core.uow import UnitOfWork

from .accounts import PROVIDER
from .models import InboundEvent, OutboundMessage, WorkStatus, ZaloOA
from .processing import BOT_DOWN, NO_ANSWER

CHAT_CHANNEL = "zalo"  # bot/actions/context.py CHANNEL: the appointments booked in chat
STAFF_REPLY = "staff_reply"  # the console's replies (bot/zalo_webhook/staff_inbox.py)
# The openings of the assistant's answers (bot/actions/support.py, bot/actions/forms.py).
NOT_UNDERSTOOD = ("Dạ, em chưa hiểu ý anh/chị",)
HANDED_OFF = (
    "Dạ, em đã chuyển cuộc trò chuyện tới nhân viên",  # action_handoff and the fallback's second miss
    BOT_DOWN[:60],
    NO_ANSWER[:60],
)
EMERGENCY_MARK = "Em đã báo nhân viên bệnh viện theo dõi tin nhắn này"
CHUNK = 500

User = tuple[str, str]  # (oa_id, user_id)


class ZaloFigures:
    """``ChannelFigures`` over the Zalo tables."""

    def assistant_days(self, uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> Mapping[int, AssistantDay]:
        session = uow.session
        hospital_of = {oa: h for oa, h in session.execute(select(ZaloOA.oa_id, ZaloOA.hospital_id)) if h is not None}
        if not hospital_of:
            return {}
        messages: dict[int, int] = defaultdict(int)
        writers: dict[int, set[User]] = defaultdict(set)
        inbound = select(InboundEvent.oa_id, InboundEvent.user_id).where(
            InboundEvent.received_at >= start,
            InboundEvent.received_at < end,
            InboundEvent.event_name.like("user_send_%"),
            InboundEvent.user_id.is_not(None),
        )
        for oa_id, user_id in session.execute(inbound):
            hospital_id = hospital_of.get(oa_id)
            if hospital_id is not None:
                messages[hospital_id] += 1
                writers[hospital_id].add((oa_id, user_id))
        booked = self._booked_in_chat(uow, start, end)
        not_understood: dict[int, int] = defaultdict(int)
        handed: dict[User, dt.datetime] = {}
        marks = [*NOT_UNDERSTOOD, *HANDED_OFF, EMERGENCY_MARK]
        answers = select(
            OutboundMessage.oa_id, OutboundMessage.user_id, OutboundMessage.body, OutboundMessage.created_at
        ).where(
            OutboundMessage.created_at >= start,
            OutboundMessage.created_at < end,
            OutboundMessage.purpose == "reply",
            OutboundMessage.user_id.is_not(None),
            or_(*(OutboundMessage.body.contains(mark) for mark in marks)),
        )
        for oa_id, user_id, body, created_at in session.execute(answers):
            hospital_id = hospital_of.get(oa_id)
            if hospital_id is None:
                continue
            text = _text_of(body)
            if text.startswith(NOT_UNDERSTOOD):
                not_understood[hospital_id] += 1
            if text.startswith(HANDED_OFF) or EMERGENCY_MARK in text:
                user = (oa_id, user_id)
                at = ensure_utc(created_at)
                if user not in handed or at < handed[user]:
                    handed[user] = at
        first_replies = self._first_replies(uow, handed)
        result: dict[int, AssistantDay] = {}
        for hospital_id in set(messages) | {hospital_of[oa] for oa, _ in handed}:
            users = writers.get(hospital_id, set())
            mine = [user for user in handed if hospital_of.get(user[0]) == hospital_id]
            result[hospital_id] = AssistantDay(
                conversations=len(users),
                booked=len(users & booked),
                user_messages=messages.get(hospital_id, 0),
                not_understood=not_understood.get(hospital_id, 0),
                handoffs=len(mine),
                first_reply_seconds=tuple(first_replies[user] for user in mine if user in first_replies),
            )
        return result

    @staticmethod
    def _booked_in_chat(uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> set[User]:
        query = (
            select(ACCOUNTS.c.external_id)
            .select_from(APPOINTMENTS)
            .join(PATIENTS, PATIENTS.c.id == APPOINTMENTS.c.patient_id)
            .join(ACCOUNTS, ACCOUNTS.c.id == PATIENTS.c.account_id)
            .where(
                APPOINTMENTS.c.created_at >= start,
                APPOINTMENTS.c.created_at < end,
                APPOINTMENTS.c.channel == CHAT_CHANNEL,
                ACCOUNTS.c.provider == PROVIDER,
            )
        )
        booked: set[User] = set()
        for (key,) in uow.session.execute(query):
            oa_id, _, user_id = key.partition(":")
            if oa_id and user_id:
                booked.add((oa_id, user_id))
        return booked

    @staticmethod
    def _first_replies(uow: UnitOfWork, handed: Mapping[User, dt.datetime]) -> dict[User, float]:
        if not handed:
            return {}
        earliest = min(handed.values())
        replies: dict[User, float] = {}
        query = (
            select(OutboundMessage.oa_id, OutboundMessage.user_id, OutboundMessage.created_at)
            .where(OutboundMessage.purpose == STAFF_REPLY, OutboundMessage.created_at >= earliest)
            .order_by(OutboundMessage.created_at)
        )
        for oa_id, user_id, created_at in uow.session.execute(query):
            user = (oa_id, user_id)
            at = ensure_utc(created_at)
            if user in handed and user not in replies and at >= handed[user]:
                replies[user] = (at - handed[user]).total_seconds()
        return replies

    def deliveries(self, uow: UnitOfWork, message_keys: Collection[str]) -> Mapping[str, Delivery]:
        keys = list(dict.fromkeys(message_keys))
        found: dict[str, Delivery] = {}
        for n in range(0, len(keys), CHUNK):
            query = select(
                OutboundMessage.idempotency_key,
                OutboundMessage.status,
                OutboundMessage.channel,
                OutboundMessage.last_error,
            ).where(OutboundMessage.idempotency_key.in_(keys[n : n + CHUNK]))
            for key, status, channel, error in uow.session.execute(query):
                found[key] = _delivery(status, channel, error)
        return found


def _delivery(status: str, channel: str | None, error: str) -> Delivery:
    if status == WorkStatus.DONE.value:
        return Delivery("sent", "zns" if channel == "zns" else "chat")
    if status in (WorkStatus.FAILED.value, WorkStatus.UNDELIVERABLE.value):
        return Delivery("undeliverable", reason=(error or status)[:120])
    return Delivery("pending")


def _text_of(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    text = data.get("text") if isinstance(data, dict) else None
    return text if isinstance(text, str) else ""
