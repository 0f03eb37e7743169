"""Buttons the channel answers itself, without the bot: the "Xác nhận sẽ đến" button of a reminder.

Confirming is one service call with nothing to ask, and the patient expects the answer at once; the
reminder's reschedule and cancel buttons do go to the bot (they need the dialogue: slots, confirmation).
A closure notice's slot buttons are answered here too (closure_notices.py): the message named the time.
Only a button the OA offered reaches here (the processor checks the conversation's last menu), and the
service checks the booking belongs to this Zalo user's account.
"""

from __future__ import annotations

import datetime as dt
import json

from core.booking import appointments, patients
from core.errors import DomainError
from core.uow import UnitOfWork
from core.wording import when_vi

from . import closure_notices
from .accounts import PROVIDER, account_key
from .messages import OutgoingMessage

CONFIRM = "/confirm_appointment"


def is_quick_action(payload: str) -> bool:
    return payload.startswith(CONFIRM + "{") or closure_notices.is_rebook(payload)


def answer(uow: UnitOfWork, oa_id: str, user_id: str, payload: str, now: dt.datetime) -> OutgoingMessage:
    """Carry out the button's action and say how it went (in Vietnamese)."""
    if closure_notices.is_rebook(payload):
        return closure_notices.answer_rebook(uow, oa_id, user_id, payload, now)
    try:
        code = str(json.loads(payload[len(CONFIRM) :]).get("booking_code") or "")
    except (ValueError, AttributeError):
        code = ""
    account_id = patients.find_account(uow, PROVIDER, account_key(oa_id, user_id))
    if not code or account_id is None:
        return OutgoingMessage("Dạ, em không tìm thấy lịch hẹn này của anh/chị ạ.")
    try:
        view = appointments.confirm_attendance(uow, code, channel="zalo", account_id=account_id, now=now)
    except DomainError as error:  # refused before any change: the conversation's own updates stand
        return OutgoingMessage(error.message_vi)
    return OutgoingMessage(
        f"Dạ, em đã ghi nhận anh/chị sẽ đến khám {view.department_name} lúc {when_vi(view.start)} "
        f"(mã {view.code}, số thứ tự {view.queue_number}). Hẹn gặp anh/chị ạ."
    )
