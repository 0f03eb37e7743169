"""Conversation state per OA and user: bot or human mode, hand-off to staff, the last interaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.db import insert_ignoring_conflicts
from core.timeutil import utcnow
from core.uow import UnitOfWork

from .models import Conversation, ConversationMode

CONVERSATIONS = Conversation.__table__


def get_or_create(uow: UnitOfWork, oa_id: str, user_id: str, now: dt.datetime | None = None) -> Conversation:
    """The conversation row (created on first contact; concurrent first contacts create one row)."""
    session = uow.session
    conversation = session.scalar(
        select(Conversation).where(Conversation.oa_id == oa_id, Conversation.user_id == user_id)
    )
    if conversation is not None:
        return conversation
    now = now or utcnow()
    session.execute(
        insert_ignoring_conflicts(session.get_bind().dialect.name, CONVERSATIONS, ["oa_id", "user_id"]),
        {
            "oa_id": oa_id,
            "user_id": user_id,
            "mode": ConversationMode.BOT.value,
            "mode_reason": "",
            "needs_staff": False,
            "staff_reason": "",
            "follower": False,
            "display_name": "",
            "created_at": now,
            "updated_at": now,
        },
    )
    return session.scalars(
        select(Conversation).where(Conversation.oa_id == oa_id, Conversation.user_id == user_id)
    ).one()


def bot_is_silent(conversation: Conversation, now: dt.datetime) -> bool:
    """In human mode the bot does not answer, until staff hand back or the hand-off time runs out."""
    if conversation.mode != ConversationMode.HUMAN:
        return False
    if conversation.human_until is not None and conversation.human_until <= now:
        to_bot(conversation, "the staff hand-off time ran out", now)
        return False
    return True


def to_human(conversation: Conversation, reason: str, now: dt.datetime, until: dt.datetime | None = None) -> None:
    """Hand the conversation to staff; ``until`` None means until staff hand it back."""
    conversation.mode = ConversationMode.HUMAN.value
    conversation.mode_reason = reason[:200]
    conversation.mode_changed_at = now
    conversation.human_until = until


def to_bot(conversation: Conversation, reason: str, now: dt.datetime) -> None:
    conversation.mode = ConversationMode.BOT.value
    conversation.mode_reason = reason[:200]
    conversation.mode_changed_at = now
    conversation.human_until = None


EMERGENCY_PREFIX = "emergency:"


def flag_for_staff(conversation: Conversation, reason: str, now: dt.datetime | None = None) -> None:
    """Put the conversation in the staff queue (the console's inbox), waiting since the first flag; an
    emergency already waiting keeps its reason, so it stays first in the queue."""
    if not conversation.needs_staff or conversation.needs_staff_since is None:
        conversation.needs_staff_since = now or utcnow()
    waiting_emergency = conversation.needs_staff and conversation.staff_reason.startswith(EMERGENCY_PREFIX)
    conversation.needs_staff = True
    if not waiting_emergency or reason.startswith(EMERGENCY_PREFIX):
        conversation.staff_reason = reason[:200]
