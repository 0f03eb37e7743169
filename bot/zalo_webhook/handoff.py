"""Staff hand a conversation back to the assistant.

The assistant paused itself (Rasa's ``ConversationPaused``) and the channel put the conversation in human
mode; handing back undoes both. Rasa is resumed first (through the one Rasa client, ``RasaBot``): if it
cannot be reached nothing changes here, so a conversation is never left in bot mode with a bot that stays silent.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import select

from core import tenancy
from core.errors import DomainError, NotFound
from core.timeutil import utcnow
from core.uow import Database

from . import conversations
from .accounts import account_key
from .models import Conversation, ZaloOA
from .rasa_bridge import BotUnavailable, RasaBot


class BotUnreachable(DomainError):
    """Rasa did not take the resume events: the conversation stays with staff."""

    code = "bot_unreachable"

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message}; the conversation stays with staff",
            "Dạ, trợ lý tự động chưa sẵn sàng nên cuộc trò chuyện vẫn do nhân viên phụ trách ạ.",
        )


def hand_back(
    db: Database, rasa: RasaBot, oa_id: str, user_id: str, staff: str, *, hospital_id: int | None = None
) -> ConversationView:
    """Bot mode again for this user, the staff flag cleared (and whoever had taken it in the console's inbox
    released); NotFound for an unknown conversation. Staff bound
    to a hospital (``hospital_id``) hand back only conversations of its OAs (403 otherwise)."""
    with db.reader() as uow:
        known = uow.session.execute(
            select(Conversation.id, ZaloOA.hospital_id)
            .outerjoin(ZaloOA, ZaloOA.oa_id == Conversation.oa_id)
            .where(Conversation.oa_id == oa_id, Conversation.user_id == user_id)
        ).first()
        if known is None:
            raise NotFound(
                f"no conversation of user {user_id} with OA {oa_id}", "Dạ, không tìm thấy cuộc trò chuyện này ạ."
            )
        tenancy.ensure_same_hospital(uow, known.hospital_id, "conversation", hospital_id)
    try:
        rasa.resume(account_key(oa_id, user_id))
    except BotUnavailable as error:
        raise BotUnreachable(str(error)) from None
    with db.uow() as uow:
        conversation = conversations.get_or_create(uow, oa_id, user_id)
        conversations.to_bot(conversation, f"handed back by {staff}", utcnow())
        conversation.needs_staff = False
        conversation.staff_reason = ""
        conversation.needs_staff_since = None
        conversation.taken_by_staff_id = None  # the console's inbox: nobody has it any more
        conversation.taken_at = None
        uow.commit()
        return ConversationView.model_validate(conversation, from_attributes=True)


def staff_queue(
    db: Database, oa_ids: list[str] | None = None, *, hospital_id: int | None = None
) -> list[ConversationView]:
    """Conversations waiting for staff (asked for a person, an emergency, the bot down…), oldest first; only
    those of the hospital's OAs when ``hospital_id`` is given (a conversation belongs to an OA, an OA to a
    hospital)."""
    with db.reader() as uow:
        query = select(Conversation).where(Conversation.needs_staff.is_(True)).order_by(Conversation.updated_at)
        if oa_ids is not None:
            query = query.where(Conversation.oa_id.in_(oa_ids))
        if hospital_id is not None:
            query = query.where(Conversation.oa_id.in_(select(ZaloOA.oa_id).where(ZaloOA.hospital_id == hospital_id)))
        return [ConversationView.model_validate(c, from_attributes=True) for c in uow.session.scalars(query)]


class ConversationView(BaseModel):
    oa_id: str
    user_id: str
    mode: str
    mode_reason: str
    needs_staff: bool
    staff_reason: str
    updated_at: dt.datetime
