"""Appointment reminders planned from the database, exactly once, at the configured offsets (time travel)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import time_machine
from sqlalchemy import select, update

from bot.zalo_webhook import workers
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import Conversation, OutboundMessage
from bot.zalo_webhook.notices import ZaloNotifier
from bot.zalo_webhook.sender import Sender
from core.booking import appointments, patients
from core.booking.checkin import check_in
from core.booking.models import Appointment
from core.reminders.models import Reminder
from core.reminders.planning import follow_up_no_shows, kinds_of, plan_appointment_reminders
from core.timeutil import local_to_utc, utcnow
from core.uow import Database
from henkham.web import create_app
from tests.factories import World, build_world, new_patient, slot_at, today_local
from tests.zalo_helpers import OA_ID, ScriptedBot, signed, synced_channel, text_event, zalo_settings

KINDS = kinds_of([24, 2])
VISIT_DAY = today_local() + dt.timedelta(days=4)


def zalo_patient(db: Database, user_id: str, n: int = 1) -> tuple[int, int]:
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:{user_id}")
    return account_id, new_patient(db, account_id, n)


def book_at(db: Database, account_id: int, patient_id: int, hhmm: str, *, booked_at: dt.datetime, day=VISIT_DAY):
    with db.uow() as uow:
        view, _ = appointments.book(
            uow,
            appointments.BookingRequest(
                slot_id=slot_at(db, "nhi", day, hhmm), patient_id=patient_id, channel="zalo", account_id=account_id
            ),
            now=booked_at,
        )
    return view


def plan_at(db: Database, moment: dt.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return plan_appointment_reminders(db, ZaloNotifier(), KINDS)


def reminders(db: Database, code: str) -> list[Reminder]:
    with db.reader() as uow:
        rows = uow.session.scalars(
            select(Reminder).join_from(Reminder, Appointment).where(Appointment.code == code)
        ).all()
        return sorted(rows, key=lambda r: r.due_at)


def reminder_messages_of(db: Database, purpose: str) -> list[OutboundMessage]:
    with db.reader() as uow:
        return list(
            uow.session.scalars(
                select(OutboundMessage).where(OutboundMessage.purpose == purpose).order_by(OutboundMessage.id)
            )
        )


def reminder_messages(db: Database) -> list[OutboundMessage]:
    return reminder_messages_of(db, "reminder")


pytestmark = pytest.mark.world(days=10, capacity=5)


@pytest.fixture
def visit(db: Database, oa_world: World) -> Iterator[tuple[str, dt.datetime]]:
    account_id, patient_id = zalo_patient(db, "u1")
    view = book_at(db, account_id, patient_id, "08:00", booked_at=utcnow())
    yield view.code, local_to_utc(VISIT_DAY, dt.time(8, 0))


def test_reminders_go_24_h_and_2_h_before_and_only_once(db, visit) -> None:
    code, start = visit
    assert plan_at(db, start - dt.timedelta(hours=25)) == 0, "nothing is due a day and an hour before"
    assert plan_at(db, start - dt.timedelta(hours=23, minutes=59)) == 1
    assert plan_at(db, start - dt.timedelta(hours=23)) == 0, "the next run finds it planned"
    assert plan_at(db, start - dt.timedelta(hours=1, minutes=59)) == 1
    assert plan_at(db, start - dt.timedelta(minutes=30)) == 0
    assert plan_at(db, start + dt.timedelta(hours=1)) == 0, "no reminder for a past visit"

    assert [(r.kind, r.outcome) for r in reminders(db, code)] == [("before_24h", "queued"), ("before_2h", "queued")]
    sent = reminder_messages(db)
    assert [m.user_id for m in sent] == ["u1", "u1"]
    body = OutgoingMessage.from_json(sent[0].body)
    assert code in body.text and "08:00" in body.text and "Nhi" in body.text and "Khu A" in body.text
    assert "CCCD" in body.text, "what to bring"
    assert [b.title for b in body.buttons] == ["Xác nhận sẽ đến", "Đổi lịch", "Hủy lịch"]
    assert all(code in b.payload for b in body.buttons)
    assert body.zns_data["booking_code"] == code, "the ZNS template gets the same facts"
    assert sent[0].useful_until == start, "not worth sending once the visit has begun"
    with db.reader() as uow:
        menu = uow.session.scalar(select(Conversation.last_menu).where(Conversation.user_id == "u1"))
    assert menu is None, "queued is not seen: the menu the user answers stays theirs until the reminder is sent"


def test_a_cancelled_visit_gets_no_reminder(db, visit) -> None:
    code, start = visit
    with db.uow() as uow:
        appointments.cancel(uow, code, by="patient", channel="zalo", now=start - dt.timedelta(days=2))
    assert plan_at(db, start - dt.timedelta(hours=23)) == 0
    assert plan_at(db, start - dt.timedelta(hours=1)) == 0
    assert reminders(db, code) == [] and reminder_messages(db) == []


def test_a_rescheduled_visit_is_reminded_of_its_new_time_only(db, visit) -> None:
    code, start = visit
    plan_at(db, start - dt.timedelta(hours=23))  # the 24 h reminder of the old time went out
    new_day = VISIT_DAY + dt.timedelta(days=2)
    new_start = local_to_utc(new_day, dt.time(9, 0))
    with db.uow() as uow:
        appointments.reschedule(
            uow, code, slot_at(db, "nhi", new_day, "09:00"), channel="zalo", now=start - dt.timedelta(hours=22)
        )
    assert plan_at(db, start - dt.timedelta(hours=1)) == 0, "nothing about the old time any more"
    assert plan_at(db, new_start - dt.timedelta(hours=23)) == 1
    planned = reminders(db, code)
    assert [(r.kind, r.target_at) for r in planned] == [("before_24h", start), ("before_24h", new_start)]
    latest = OutgoingMessage.from_json(reminder_messages(db)[-1].body)
    assert "09:00" in latest.text


def test_a_visit_booked_after_a_reminder_time_skips_that_reminder(db, oa_world) -> None:
    account_id, patient_id = zalo_patient(db, "u2", 2)
    start = local_to_utc(VISIT_DAY, dt.time(14, 0))
    view = book_at(db, account_id, patient_id, "14:00", booked_at=start - dt.timedelta(hours=5))
    assert plan_at(db, start - dt.timedelta(hours=4)) == 1
    assert plan_at(db, start - dt.timedelta(hours=1)) == 1
    outcomes = [(r.kind, r.outcome, r.reason) for r in reminders(db, view.code)]
    assert outcomes == [
        ("before_24h", "skipped", "booked after this reminder's time"),
        ("before_2h", "queued", ""),
    ]
    assert len(reminder_messages(db)) == 1


def test_after_an_outage_only_the_nearest_due_reminder_is_sent(db, visit) -> None:
    code, start = visit
    assert plan_at(db, start - dt.timedelta(minutes=90)) == 2  # the scheduler was down for a day
    outcomes = [(r.kind, r.outcome, r.reason) for r in reminders(db, code)]
    assert outcomes == [
        ("before_24h", "skipped", "the before_2h reminder replaces it"),
        ("before_2h", "queued", ""),
    ]
    assert len(reminder_messages(db)) == 1


def test_a_patient_without_zalo_gets_the_reminder_by_zns_through_the_hospitals_oa(db, oa_world) -> None:
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "kiosk", "desk-7")
    patient_id = new_patient(db, account_id, 3, phone="0987654321")
    view = book_at(db, account_id, patient_id, "09:30", booked_at=utcnow())
    plan_at(db, local_to_utc(VISIT_DAY, dt.time(9, 30)) - dt.timedelta(hours=20))
    [message] = reminder_messages(db)
    assert (message.oa_id, message.user_id, message.phone) == (OA_ID, None, "+84987654321")
    assert view.code in OutgoingMessage.from_json(message.body).text


def test_a_hospital_without_an_oa_records_the_reminder_as_undeliverable(db, database_url) -> None:
    world = build_world(db, start=today_local(), days=10, capacity=5)  # no OA synced for it
    patient_id = new_patient(db, world.account_id, 4)
    view = book_at(db, world.account_id, patient_id, "10:00", booked_at=utcnow())
    plan_at(db, local_to_utc(VISIT_DAY, dt.time(10, 0)) - dt.timedelta(hours=20))
    [reminder] = reminders(db, view.code)
    assert (reminder.outcome, reminder.reason) == ("undeliverable", "no Zalo OA serves hospital test")
    assert reminder_messages(db) == []


def test_many_due_reminders_are_planned_in_batches(db, oa_world) -> None:
    start = local_to_utc(VISIT_DAY, dt.time(10, 30))
    for n in range(7):
        account_id, patient_id = zalo_patient(db, f"b{n}", 10 + n)
        with db.uow() as uow:
            appointments.book(
                uow,
                appointments.BookingRequest(
                    slot_id=slot_at(db, "mat" if n % 2 else "nhi", VISIT_DAY, "10:30"),
                    patient_id=patient_id,
                    channel="zalo",
                    account_id=account_id,
                ),
                now=utcnow(),
            )
    with time_machine.travel(start - dt.timedelta(hours=20), tick=False):
        assert plan_appointment_reminders(db, ZaloNotifier(), KINDS, batch=3) == 7
    assert sorted(m.user_id for m in reminder_messages(db)) == sorted(f"b{n}" for n in range(7))


def test_the_confirm_button_of_a_reminder_confirms_the_visit_without_the_bot(db, database_url, oa_world) -> None:
    bot = ScriptedBot()
    channel = synced_channel(db, zalo_settings(database_url), bot)
    client = create_app(channel.settings, database=db).test_client()

    def tap_or_type(user_id: str, text: str) -> str:
        raw, headers = signed(text_event(user_id, text))
        assert client.post("/zalo/webhook", data=raw, headers=headers).status_code == 200
        while workers.inbox_step(db, channel.processor):
            pass
        with db.reader() as uow:
            last = uow.session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.user_id == user_id, OutboundMessage.purpose == "reply")
                .order_by(OutboundMessage.id.desc())
            ).first()
        return OutgoingMessage.from_json(last.body).text if last else ""

    account_id, patient_id = zalo_patient(db, "u5", 5)
    view = book_at(db, account_id, patient_id, "08:30", booked_at=utcnow())
    zalo_patient(db, "u6", 6)  # another Zalo user
    tap_or_type("u5", "xin chào")  # u5 has been chatting with the OA
    plan_at(db, local_to_utc(VISIT_DAY, dt.time(8, 30)) - dt.timedelta(hours=20))
    [reminder] = reminder_messages(db)
    confirm = OutgoingMessage.from_json(reminder.body).buttons[0].payload
    with db.uow() as uow:  # delivered by chat: its buttons are the menu now (as the sender records it)
        Sender._menu_shown(uow, reminder)
        uow.commit()

    forged = tap_or_type("u6", confirm)  # not offered to u6: read as plain text and handed to the bot
    assert bot.calls[-1] == (f"{OA_ID}:u6", confirm.lstrip("/")) and "đã ghi nhận" not in forged
    with db.uow() as uow:  # even offered to u6 (say a forwarded menu), it is not u6's booking
        uow.session.execute(
            update(Conversation).where(Conversation.user_id == "u6").values(last_menu=json.dumps([confirm]))
        )
        uow.commit()
    assert "không tìm thấy" in tap_or_type("u6", confirm)
    answer = tap_or_type("u5", "1")  # the first button, by its number
    assert "đã ghi nhận" in answer and view.code in answer and "08:30" in answer
    assert len(bot.calls) == 2, "the bot was not asked (only for the greeting and u6's text)"
    with db.reader() as uow:
        confirmed = uow.session.scalar(select(Appointment.confirmed_at).where(Appointment.code == view.code))
    assert confirmed is not None
    with db.uow() as uow:  # confirming again (a second tap) changes nothing
        again = appointments.confirm_attendance(uow, view.code, channel="zalo", account_id=account_id)
    assert again.confirmed_at is not None and again.confirmed_at.astimezone(dt.UTC) == confirmed
    with db.uow() as uow:
        appointments.cancel(uow, view.code, by="patient", channel="zalo")
        uow.session.execute(
            update(Conversation).where(Conversation.user_id == "u5").values(last_menu=json.dumps([confirm]))
        )
        uow.commit()
    assert "không xác nhận được nữa" in tap_or_type("u5", confirm)


def follow_up_at(db: Database, moment: dt.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return follow_up_no_shows(db, ZaloNotifier())


def test_a_missed_visit_becomes_a_no_show_and_the_patient_gets_one_gentle_message(db, oa_world) -> None:
    account_id, missed_patient = zalo_patient(db, "u7", 7)
    missed = book_at(db, account_id, missed_patient, "08:00", booked_at=utcnow())
    came_account, came_patient = zalo_patient(db, "u8", 8)
    came = book_at(db, came_account, came_patient, "08:00", booked_at=utcnow())
    session_end = local_to_utc(VISIT_DAY, dt.time(11, 0))
    with db.uow() as uow:
        check_in(uow, came.code, channel="kiosk", now=session_end - dt.timedelta(hours=2))

    assert follow_up_at(db, session_end + dt.timedelta(minutes=20)) == 0, "not before the 30-minute grace"
    assert follow_up_at(db, session_end + dt.timedelta(minutes=31)) == 1
    assert follow_up_at(db, session_end + dt.timedelta(hours=2)) == 0, "one message, not one per run"

    with db.reader() as uow:
        statuses = dict(uow.session.execute(select(Appointment.code, Appointment.status)).all())
    assert (statuses[missed.code], statuses[came.code]) == ("no_show", "checked_in")
    [message] = [m for m in reminder_messages_of(db, "no_show")]
    assert message.user_id == "u7"
    body = OutgoingMessage.from_json(message.body)
    assert missed.code in body.text and "đặt lịch mới" in body.text
    assert [b.title for b in body.buttons] == ["Đặt lịch mới", "Gặp nhân viên"]
    assert json.loads(body.buttons[0].payload.removeprefix("/book_appointment")) == {"department": "nhi"}
    assert reminder_messages(db) == [], "no visit reminders were due in this test"


def test_visits_missed_long_ago_are_marked_without_a_message(db, oa_world) -> None:
    account_id, patient_id = zalo_patient(db, "u9", 9)
    missed = book_at(db, account_id, patient_id, "09:00", booked_at=utcnow())
    assert follow_up_at(db, local_to_utc(VISIT_DAY + dt.timedelta(days=3), dt.time(12, 0))) == 0
    with db.reader() as uow:
        assert uow.session.scalar(select(Appointment.status).where(Appointment.code == missed.code)) == "no_show"
    assert reminder_messages_of(db, "no_show") == []
