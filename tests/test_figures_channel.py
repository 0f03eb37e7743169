"""The channel's side of the figures (bot/zalo_webhook/figures_channel.py) over real Zalo tables: conversations,
those that booked in chat, not-understood answers, hand-offs and the staff's first reply; what became of
queued reminders. Then the whole roll-up with it."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from bot.zalo_webhook.figures_channel import ZaloFigures
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import InboundEvent, OutboundMessage, ZaloOA
from bot.zalo_webhook.processing import BOT_DOWN
from core.booking.models import Account, Patient
from core.figures import report
from core.figures.rollup import day_bounds, roll_up
from tests.figures_seed import DAY, appointment, at, place, reminder

OA = "oa-figures"
_n = itertools.count(1)
HANDOFF = "Dạ, em đã chuyển cuộc trò chuyện tới nhân viên bệnh viện. Nhân viên sẽ trả lời anh/chị sớm nhất."
NOT_UNDERSTOOD = "Dạ, em chưa hiểu ý anh/chị. Anh/chị nói rõ hơn hoặc chọn một việc bên dưới giúp em ạ."


def inbound(uow, user: str, when: dt.datetime, name: str = "user_send_text") -> None:
    uow.session.add(
        InboundEvent(
            oa_id=OA,
            event_key=f"e{next(_n)}",
            event_name=name,
            user_id=user,
            payload="{}",
            received_at=when,
            status="done",
        )
    )


def outbound(uow, user: str, text: str, when: dt.datetime, purpose: str = "reply", **kw) -> str:
    key = f"m{next(_n)}"
    uow.session.add(
        OutboundMessage(
            oa_id=OA,
            user_id=user,
            idempotency_key=key,
            purpose=purpose,
            body=OutgoingMessage(text).to_json(),
            created_at=when,
            **kw,
        )
    )
    return key


def test_the_channel_counts_conversations_bookings_misunderstandings_hand_offs_and_first_replies(db, world):
    here = place(db)
    with db.uow() as uow:
        uow.session.add(ZaloOA(oa_id=OA, app_id="app", hospital_id=here.hospital_id))
        account = Account(provider="zalo", external_id=f"{OA}:u1")
        uow.session.add(account)
        uow.session.flush()
        patient = Patient(
            account_id=account.id, full_name="A", date_of_birth=dt.date(1990, 1, 1), sex="male", phone="+84900000002"
        )
        uow.session.add(patient)
        uow.session.flush()
        patient_id = patient.id
        for user in ("u1", "u2", "u3"):
            inbound(uow, user, at(DAY, "08:00"))
        inbound(uow, "u1", at(DAY, "08:01"))
        inbound(uow, "u1", at(DAY, "08:02"), name="follow")  # not a message
        inbound(uow, "u4", at(DAY - dt.timedelta(days=1), "08:00"))  # another day
        outbound(uow, "u2", NOT_UNDERSTOOD, at(DAY, "08:00", 5))
        outbound(uow, "u2", HANDOFF, at(DAY, "08:01"))
        outbound(uow, "u2", "Chào anh, em là nhân viên.", at(DAY, "08:03"), purpose="staff_reply")
        outbound(uow, "u2", "Thêm một câu.", at(DAY, "08:05"), purpose="staff_reply")
        outbound(uow, "u3", BOT_DOWN, at(DAY, "08:10"))  # handed off, never answered
        outbound(uow, "u3", "Dạ, em chưa hiểu rồi", at(DAY, "08:11"))  # no marker opening
        sent = outbound(uow, "u1", "Nhắc lịch", at(DAY, "07:00"), purpose="reminder", status="done", channel="zns")
        lost = outbound(
            uow,
            "u1",
            "Nhắc lịch",
            at(DAY, "07:00"),
            purpose="reminder",
            status="undeliverable",
            last_error="not a follower",
        )
        uow.commit()
    appointment(db, here, channel="zalo", created=at(DAY, "08:02"), patient_id=patient_id)  # u1 booked in chat
    start, end = day_bounds(DAY)
    figures = ZaloFigures()
    with db.reader() as uow:
        [(hospital_id, numbers)] = figures.assistant_days(uow, start, end).items()
        deliveries = figures.deliveries(uow, [sent, lost, "unknown"])
    assert hospital_id == here.hospital_id
    assert (numbers.conversations, numbers.booked, numbers.user_messages) == (3, 1, 4)
    assert (numbers.not_understood, numbers.handoffs, numbers.first_reply_seconds) == (1, 2, (120.0,))
    assert deliveries[sent].channel == "zns" and deliveries[sent].status == "sent"
    assert deliveries[lost].status == "undeliverable" and deliveries[lost].reason == "not a follower"
    assert "unknown" not in deliveries

    reminder(db, here, None, message_key=sent)
    reminder(db, here, None, message_key=lost)
    with db.uow() as uow:
        roll_up(uow, DAY, figures)
        uow.commit()
    with db.reader() as uow:
        [day] = report.figures(uow, [here.hospital_id], DAY, DAY).periods
        assert uow.session.scalar(select(ZaloOA.hospital_id)) == here.hospital_id
    assert (day.conversations, day.handoffs, day.first_reply.median) == (3, 2, 120)
    assert day.reminders_by_channel == {"zns": 1, "undeliverable": 1}
    assert day.undeliverable_reasons == {"not a follower": 1}
