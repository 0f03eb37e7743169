"""Closures as Zalo messages: the channel's side of ``core.booking.closures`` (its ClosureNotifier), and the
answer to the buttons of such a message.

Each cancelled booking becomes one outbox message (idempotency key ``closure:<closure id>:<appointment id>``,
purpose ``closure``) in the transaction that cancels it. It apologises, says why, and offers the nearest free
slots as buttons; a tap books that slot for the same patient at once (a quick action of the channel, as the
reminder's "Xác nhận sẽ đến": the message already named the time, so there is nothing more to ask), and "Chọn
giờ khác" opens the assistant's booking dialogue for the same department. A patient who booked outside Zalo is
told by ZNS through the hospital's OA (when the OA has a ``closure`` template), without buttons.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from core.booking import closures, patients
from core.booking.closures import ClosureNotice
from core.booking.models import Hospital
from core.errors import DomainError
from core.uow import UnitOfWork
from core.wording import short_day_vi, when_vi

from . import outbox
from .accounts import PROVIDER, account_key, split_key
from .messages import Button, OutgoingMessage
from .models import ZaloOA

REBOOK = "/rebook_closed"
PURPOSE = "closure"


def rebook_payload(code: str, slot_id: int) -> str:
    return f"{REBOOK}{json.dumps({'booking_code': code, 'slot_id': slot_id})}"


def closure_message(notice: ClosureNotice) -> OutgoingMessage:
    """The apology, the reason, and the offered slots as buttons (polite register, Vietnamese)."""
    a = notice.appointment
    lines = [
        f"Dạ, {a.hospital_name} xin lỗi anh/chị: lịch khám {a.department_name} của {a.patient_name} lúc "
        f"{when_vi(a.start)} (mã {a.code}) đã phải hủy vì {notice.reason}.",
    ]
    buttons = [Button(f"{short_day_vi(s.day)} – {s.start:%H:%M}", rebook_payload(a.code, s.id)) for s in notice.offers]
    if buttons:
        lines.append(
            "Bệnh viện xin đề xuất các giờ khám còn trống gần nhất bên dưới; anh/chị bấm một giờ để đặt lại "
            "lịch ngay, hoặc chọn giờ khác ạ."
        )
    else:
        lines.append("Hiện chưa còn giờ trống gần; anh/chị bấm «Chọn giờ khác» để em tìm giờ khám khác ạ.")
    buttons.append(Button("Chọn giờ khác", f"/book_appointment{json.dumps({'department': a.department})}"))
    buttons.append(Button("Gặp nhân viên", "/request_human"))
    return OutgoingMessage(
        "\n".join(lines),
        tuple(buttons),
        zns_data={
            "patient_name": a.patient_name,
            "booking_code": a.code,
            "department": a.department_name,
            "time": f"{a.start:%H:%M %d/%m/%Y}",
            "reason": notice.reason,
        },
    )


class ZaloClosureNotifier:
    def queue(self, uow: UnitOfWork, notice: ClosureNotice, now: dt.datetime) -> bool:
        oa_id, user_id = self._recipient(uow, notice)
        if oa_id is None:
            return False
        outbox.enqueue(
            uow,
            oa_id=oa_id,
            user_id=user_id,
            message=closure_message(notice),
            key=notice.key,
            purpose=PURPOSE,
            phone=notice.phone or None,
            now=now,
        )
        return True

    @staticmethod
    def _recipient(uow: UnitOfWork, notice: ClosureNotice) -> tuple[str | None, str | None]:
        """(OA, Zalo user) of the patient's account; for another kind of account the hospital's OA (ZNS only)."""
        if notice.account_provider == PROVIDER and (pair := split_key(notice.account_key)):
            return pair
        oa_id = uow.session.scalar(
            select(ZaloOA.oa_id)
            .join(Hospital, Hospital.id == ZaloOA.hospital_id)
            .where(Hospital.slug == notice.appointment.hospital)
        )
        return oa_id, None


def is_rebook(payload: str) -> bool:
    return payload.startswith(REBOOK + "{")


def answer_rebook(uow: UnitOfWork, oa_id: str, user_id: str, payload: str, now: dt.datetime) -> OutgoingMessage:
    """Book the tapped slot for the patient of the cancelled booking, and say how it went."""
    try:
        data = json.loads(payload[len(REBOOK) :])
        code, slot_id = str(data.get("booking_code") or ""), int(data.get("slot_id"))
    except (ValueError, TypeError, AttributeError):
        code, slot_id = "", 0
    account_id = patients.find_account(uow, PROVIDER, account_key(oa_id, user_id))
    if not code or not slot_id or account_id is None:
        return OutgoingMessage("Dạ, em không tìm thấy lịch hẹn này của anh/chị ạ.")
    try:
        view = closures.rebook(uow, code, slot_id, account_id=account_id, channel="zalo", now=now)
    except DomainError as error:
        return OutgoingMessage(
            error.message_vi, (Button("Chọn giờ khác", "/book_appointment"), Button("Gặp nhân viên", "/request_human"))
        )
    return OutgoingMessage(
        f"Dạ, em đã đặt lại lịch khám {view.department_name} cho {view.patient_name} lúc {when_vi(view.start)}. "
        f"Mã lịch hẹn mới: {view.code} · Số thứ tự: {view.queue_number}. Hẹn gặp anh/chị ạ."
    )
