"""Reminders as Zalo messages: the channel's side of ``core.reminders`` (its Notifier).

Each reminder becomes one outbox message (idempotency key ``reminder:<reminder key>``, purpose
``reminder``) in the planner's transaction. The sender picks the route when it sends: a chat message while
the user's window is open, otherwise the hospital's ZNS template to the patient's phone (``zns_data``),
otherwise undeliverable with the reason. A patient who booked outside Zalo (kiosk, desk) has no Zalo user:
the reminder goes by ZNS through the hospital's OA.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import select

from core.booking.models import Hospital
from core.booking.views import AppointmentView
from core.reminders.models import ReminderOutcome
from core.reminders.planning import NO_SHOW, Delivery, Notice
from core.reminders.views import ReExamView
from core.uow import UnitOfWork
from core.wording import day_vi, when_vi

from . import outbox
from .accounts import PROVIDER, split_key
from .messages import Button, OutgoingMessage
from .models import ZaloOA


def reminder_buttons(code: str) -> tuple[Button, ...]:
    """Confirm, reschedule, cancel: each carries the booking code into the conversation."""
    entity = json.dumps({"booking_code": code})
    return (
        Button("Xác nhận sẽ đến", f"/confirm_appointment{entity}"),
        Button("Đổi lịch", f"/reschedule_appointment{entity}"),
        Button("Hủy lịch", f"/cancel_appointment{entity}"),
    )


def reminder_message(notice: Notice) -> OutgoingMessage:
    a = notice.subject
    assert isinstance(a, AppointmentView)
    start = a.start
    place = ", ".join(part for part in (a.location, f"phòng {a.room}" if a.room else "") if part)
    lines = [
        f"Dạ, {a.hospital_name} xin nhắc lịch khám của {a.patient_name}: {a.department_name}, lúc {when_vi(start)}.",
        f"Mã lịch hẹn: {a.code} · Số thứ tự: {a.queue_number}",
    ]
    if place:
        lines.append(f"Nơi khám: {place}")
    if a.what_to_bring:
        lines.append(f"Mang theo: {a.what_to_bring}")
    lines.append("Anh/chị vui lòng xác nhận sẽ đến, hoặc đổi/hủy lịch nếu không đến được ạ.")
    return OutgoingMessage(
        "\n".join(lines),
        reminder_buttons(a.code),
        zns_data={
            "patient_name": a.patient_name,
            "booking_code": a.code,
            "department": a.department_name,
            "time": f"{start:%H:%M %d/%m/%Y}",
            "queue_number": str(a.queue_number),
            "place": place or a.hospital_name,
        },
    )


def no_show_message(notice: Notice) -> OutgoingMessage:
    """After a missed visit: one gentle word and a way to book again (no reproach)."""
    a = notice.subject
    assert isinstance(a, AppointmentView)
    entity = json.dumps({"department": a.department})
    return OutgoingMessage(
        f"Dạ, {a.hospital_name} thấy {a.patient_name} chưa đến khám {a.department_name} theo lịch lúc "
        f"{when_vi(a.start)} (mã {a.code}). Mong là mọi việc đều ổn ạ. Nếu anh/chị vẫn cần khám, em có thể "
        "giúp đặt lịch mới ngay ạ.",
        (Button("Đặt lịch mới", f"/book_appointment{entity}"), Button("Gặp nhân viên", "/request_human")),
        zns_data={
            "patient_name": a.patient_name,
            "booking_code": a.code,
            "department": a.department_name,
            "time": f"{a.start:%H:%M %d/%m/%Y}",
        },
    )


def re_exam_message(notice: Notice) -> OutgoingMessage:
    """Before a re-exam date: what the doctor asked for, and a button that offers the free times that day."""
    r = notice.subject
    assert isinstance(r, ReExamView)
    where = f" khoa {r.department_name}" if r.department_name else ""
    day = day_vi(r.due_date)
    entity: dict[str, object] = {"time": {"date": r.due_date.isoformat()}}
    if r.department:
        entity["department"] = r.department
    text = f"Dạ, {r.hospital_name} xin nhắc {r.patient_name}: bác sĩ hẹn tái khám{where} vào {day}."
    if r.note:
        text += f" Ghi chú của bác sĩ: {r.note}"
    text += " Anh/chị bấm nút bên dưới để xem giờ khám còn trống và đặt lịch ạ."
    return OutgoingMessage(
        text,
        (
            Button("Xem giờ còn trống", f"/book_appointment{json.dumps(entity, ensure_ascii=False)}"),
            Button("Gặp nhân viên", "/request_human"),
        ),
        zns_data={
            "patient_name": r.patient_name,
            "department": r.department_name or "",
            "date": f"{r.due_date:%d/%m/%Y}",
        },
    )


def message_of(notice: Notice) -> tuple[str, OutgoingMessage]:
    """The outbox purpose (it selects the ZNS template) and the message of a notice."""
    if notice.kind == NO_SHOW:
        return "no_show", no_show_message(notice)
    if isinstance(notice.subject, ReExamView):
        return "reexam", re_exam_message(notice)
    return "reminder", reminder_message(notice)


class ZaloNotifier:
    def queue(self, uow: UnitOfWork, notices: Sequence[Notice], now: dt.datetime) -> list[Delivery]:
        """All of a batch in one statement. The reminder's buttons become the conversation's menu when the
        sender delivers it (the user sees it then), not now."""
        hospital_oas: dict[str, str | None] = {}
        deliveries = []
        queued = []
        for notice in notices:
            oa_id, user_id = self._recipient(uow, notice, hospital_oas)
            if oa_id is None:
                reason = f"no Zalo OA serves hospital {notice.hospital}"
                deliveries.append(Delivery(ReminderOutcome.UNDELIVERABLE, reason))
                continue
            purpose, message = message_of(notice)
            key = f"reminder:{notice.key}"
            queued.append(
                outbox.Queued(oa_id, user_id, message, key, purpose, notice.phone or None, notice.useful_until)
            )
            deliveries.append(Delivery(ReminderOutcome.QUEUED, message_key=key))
        outbox.enqueue_many(uow, queued, now)
        return deliveries

    @staticmethod
    def _recipient(
        uow: UnitOfWork, notice: Notice, hospital_oas: dict[str, str | None]
    ) -> tuple[str | None, str | None]:
        """(OA, Zalo user) of the patient's account; for an account of another kind, the hospital's OA and
        no user (ZNS to the phone only)."""
        if notice.account_provider == PROVIDER and (pair := split_key(notice.account_key)):
            return pair
        slug = notice.hospital
        if slug not in hospital_oas:
            hospital_oas[slug] = uow.session.scalar(
                select(ZaloOA.oa_id).join(Hospital, Hospital.id == ZaloOA.hospital_id).where(Hospital.slug == slug)
            )
        return hospital_oas[slug], None
