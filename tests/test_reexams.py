"""Re-exam dates entered by the hospital, and their reminders 3 and 1 days before at 08:00 (time travel)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import select

from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import OutboundMessage
from bot.zalo_webhook.notices import ZaloNotifier
from core.booking import appointments, patients
from core.errors import InvalidInput, NotFound
from core.reminders.models import Reminder
from core.reminders.reexams import cancel_re_exam, patient_re_exams, plan_re_exam_reminders, record_re_exam
from core.timeutil import local_to_utc, utcnow
from core.uow import Database
from tests.factories import World, new_patient, slot_at, today_local
from tests.zalo_helpers import OA_ID

DUE = today_local() + dt.timedelta(days=8)
DAYS = [3, 1]


pytestmark = pytest.mark.world(days=12, capacity=5)


@pytest.fixture
def patient(db: Database, oa_world: World) -> tuple[int, int]:
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:r1")
    return account_id, new_patient(db, account_id, 1)


def record(db: Database, patient_id: int, **kw: object):
    fields = {"hospital": "test", "department": "nhi", "due_date": DUE, "note": "Mang theo đơn thuốc cũ"}
    fields.update(kw)
    with db.uow() as uow:
        return record_re_exam(uow, patient_id=patient_id, **fields)


def plan_at(db: Database, day: dt.date, hhmm: str) -> int:
    with time_machine.travel(local_to_utc(day, dt.time.fromisoformat(hhmm)), tick=False):
        return plan_re_exam_reminders(db, ZaloNotifier(), DAYS)


def planned(db: Database) -> list[tuple[str, str, str]]:
    with db.reader() as uow:
        rows = uow.session.scalars(select(Reminder).where(Reminder.re_exam_id.is_not(None)).order_by(Reminder.id))
        return [(r.kind, r.outcome, r.reason) for r in rows]


def messages(db: Database) -> list[OutboundMessage]:
    with db.reader() as uow:
        return list(uow.session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "reexam")))


def test_reminders_go_at_08_00_three_days_and_one_day_before_once_each(db, patient) -> None:
    _, patient_id = patient
    view, created = record(db, patient_id)
    assert created and (view.department, view.due_date, view.cancelled) == ("nhi", DUE, False)
    assert record(db, patient_id)[1] is False, "the same date again is the same re-exam"

    assert plan_at(db, DUE - dt.timedelta(days=4), "20:00") == 0
    assert plan_at(db, DUE - dt.timedelta(days=3), "07:59") == 0, "not before 08:00"
    assert plan_at(db, DUE - dt.timedelta(days=3), "08:00") == 1
    assert plan_at(db, DUE - dt.timedelta(days=3), "15:00") == 0, "once"
    assert plan_at(db, DUE - dt.timedelta(days=1), "08:05") == 1
    assert plan_at(db, DUE + dt.timedelta(days=1), "08:05") == 0
    assert planned(db) == [("reexam_3d", "queued", ""), ("reexam_1d", "queued", "")]

    first = OutgoingMessage.from_json(messages(db)[0].body)
    assert f"{DUE:%d/%m/%Y}" in first.text and "tái khám khoa Nhi" in first.text
    assert "Mang theo đơn thuốc cũ" in first.text, "the doctor's note"
    offer = first.buttons[0]
    assert offer.title == "Xem giờ còn trống"
    assert json.loads(offer.payload.removeprefix("/book_appointment")) == {
        "time": {"date": DUE.isoformat()},
        "department": "nhi",
    }, "the booking form opens on that date in that department and offers the free times"


def test_when_both_are_due_only_the_nearest_is_sent(db, patient) -> None:
    record(db, patient[1])
    assert plan_at(db, DUE - dt.timedelta(days=1), "09:00") == 2
    assert planned(db) == [("reexam_1d", "queued", ""), ("reexam_3d", "skipped", "the reexam_1d reminder replaces it")]
    assert len(messages(db)) == 1


def test_a_patient_who_already_booked_in_the_department_is_not_reminded(db, oa_world, patient) -> None:
    account_id, patient_id = patient
    record(db, patient_id)
    with db.uow() as uow:
        view, _ = appointments.book(
            uow,
            appointments.BookingRequest(
                slot_id=slot_at(db, "nhi", DUE, "09:00"), patient_id=patient_id, channel="zalo", account_id=account_id
            ),
            now=utcnow(),
        )
    plan_at(db, DUE - dt.timedelta(days=3), "08:30")
    assert planned(db) == [("reexam_3d", "skipped", f"a visit is already booked ({view.code})")]
    assert messages(db) == []


def test_a_cancelled_re_exam_gets_no_reminder(db, patient) -> None:
    view, _ = record(db, patient[1])
    with db.uow() as uow:
        assert cancel_re_exam(uow, view.id).cancelled
    assert plan_at(db, DUE - dt.timedelta(days=1), "09:00") == 0
    with db.reader() as uow:
        assert [r.cancelled for r in patient_re_exams(uow, patient[1])] == [True]


def test_bad_re_exam_input_is_refused_and_nothing_is_stored(db, patient) -> None:
    _, patient_id = patient
    with pytest.raises(InvalidInput, match="past"):
        record(db, patient_id, due_date=today_local() - dt.timedelta(days=1))
    with pytest.raises(InvalidInput, match="year"):
        record(db, patient_id, due_date=today_local() + dt.timedelta(days=400))
    with pytest.raises(NotFound):
        record(db, patient_id, department="khong-co")
    with pytest.raises(NotFound):
        record(db, 999_999)
    with pytest.raises(InvalidInput, match="hospital is required"):
        record(db, patient_id, hospital=None)
    with db.reader() as uow:
        assert patient_re_exams(uow, patient_id) == []
