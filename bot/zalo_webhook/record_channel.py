"""Record access in chat, the channel's side: one-time codes by ZNS, "your results are ready" notices.

``ZaloCodeSender`` (core.emr.record_access's ``CodeSender``) queues the code the user must type back as one
outbox message of purpose ``otp``, to the phone being checked, through the OA of the user's account. The code
proves that the user holds that phone, so it never goes to the chat: the row names no Zalo user (no chat
route exists for it, and it does not wait behind the user's chat messages in the outbox's per-user order),
window.py sends purpose ``otp`` by ZNS only and never holds it at night, and the sender blanks the code out
of the row once it is settled. An OA without an ``otp`` ZNS template cannot send codes: the message is
undeliverable with that reason (the desk route remains).

``ZaloResultNotifier`` (core.emr.result_notices's ``ResultNotifier``) queues "the results of your visit of
<day> at <facility> are ready" (purpose ``results``) to the account's Zalo user, with the button that opens
that visit's summary in chat. It carries no health data, so it may go by ZNS (template data ``facility`` and
``date``) when the chat window is closed; the sender applies the window and the night ban as for reminders.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import update

from core.booking.models import Account
from core.emr.result_notices import ResultNotice
from core.uow import UnitOfWork

from . import outbox
from .accounts import PROVIDER, split_key
from .messages import Button, OutgoingMessage
from .models import OutboundMessage, WorkStatus

OTP = "otp"
RESULTS = "results"
# The parameters of the ZNS templates of these purposes (what an OA registers with Zalo for them).
TEMPLATE_PARAMETERS: dict[str, tuple[str, ...]] = {OTP: ("otp",), RESULTS: ("facility", "date")}
# What an operator reading the outbox sees of a code message; the code itself is in its ZNS data only.
OTP_LABEL = "Mã xác minh hồ sơ (chỉ gửi qua ZNS đến số điện thoại, không gửi trong chat)"


def zalo_pair(uow: UnitOfWork, account_id: int) -> tuple[str, str] | None:
    """(OA, Zalo user) of a booking account of provider ``zalo``; None for another kind of account."""
    account = uow.session.get(Account, account_id)
    if account is None or account.provider != PROVIDER:
        return None
    return split_key(account.external_id)


class ZaloCodeSender:
    """Sends a one-time code by ZNS (template data ``{"otp": code}``) to the phone being verified."""

    def send_code(
        self, uow: UnitOfWork, *, account_id: int, phone: str, code: str, expires_at: dt.datetime, now: dt.datetime
    ) -> None:
        pair = zalo_pair(uow, account_id)
        if pair is None:
            raise ValueError(f"account {account_id} is not a Zalo user: no OA to send its code through")
        oa_id, _user_id = pair
        outbox.enqueue(
            uow,
            oa_id=oa_id,
            user_id=None,  # ZNS to the phone only: never a chat message
            message=OutgoingMessage(OTP_LABEL, zns_data={"otp": code}),
            key=f"otp:{account_id}:{now.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}",
            purpose=OTP,
            phone=phone,
            now=now,
            useful_until=expires_at,
        )


def result_message(notice: ResultNotice) -> OutgoingMessage:
    """The visit's day and facility, nothing of its content, and the button that opens its summary."""
    when = f"ngày {notice.day:%d/%m/%Y}" if notice.day else "gần đây"
    payload = "/ask_record_summary" + json.dumps({"record_visit": str(notice.visit_id)})
    return OutgoingMessage(
        f'Dạ, kết quả lần khám {when} tại {notice.facility_name} đã có. Anh/chị bấm "Xem kết quả" để xem ạ.',
        (Button("Xem kết quả", payload),),
        zns_data={"facility": notice.facility_name, "date": f"{notice.day:%d/%m/%Y}" if notice.day else when},
    )


def drop_waiting_results(uow: UnitOfWork, oa_id: str, user_id: str) -> int:
    """The results messages to this user still waiting in the outbox (queued, or retried after an error) go no
    further: the user withdrew consent, and nothing is pushed after that. How many were dropped."""
    table = OutboundMessage.__table__
    return uow.session.execute(
        update(table)
        .where(
            table.c.oa_id == oa_id,
            table.c.user_id == user_id,
            table.c.purpose == RESULTS,
            table.c.status == WorkStatus.PENDING.value,
        )
        .values(status=WorkStatus.UNDELIVERABLE.value, last_error="dropped: consent to result notices withdrawn")
    ).rowcount


class ZaloResultNotifier:
    def queue_results(self, uow: UnitOfWork, notices: Sequence[ResultNotice], now: dt.datetime) -> list[bool]:
        """All of a batch in one statement, to each account's Zalo user (the phone the user shared, kept with
        the conversation, serves for ZNS). An account that is no Zalo user cannot be reached here: False."""
        queued: list[outbox.Queued] = []
        reached: list[bool] = []
        for notice in notices:
            pair = split_key(notice.account_key) if notice.account_provider == PROVIDER else None
            reached.append(pair is not None)
            if pair is not None:
                queued.append(outbox.Queued(pair[0], pair[1], result_message(notice), notice.key, RESULTS))
        outbox.enqueue_many(uow, queued, now)
        return reached
