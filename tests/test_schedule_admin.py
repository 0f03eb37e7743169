"""A hospital admin's sessions and closures in core (core/booking/schedule_admin.py, core/booking/closures.py) with
the Zalo channel's notices (bot/zalo_webhook/closure_notices.py): validation; editing a session rebuilds its free
future slots and leaves booked ones alone; a closure without bookings; a closure with bookings cancels them by
the hospital, tells each patient once (a retry sends nothing more) and its days are no longer offered; a doctor's
closure hits only that doctor's bookings; a patient without Zalo is told by ZNS; a tapped offered slot books it for
the same patient, once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.zalo_webhook import closure_notices
from bot.zalo_webhook.accounts import account_key
from bot.zalo_webhook.closure_notices import ZaloClosureNotifier, rebook_payload
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import OutboundMessage
from core.booking import appointments, closures, patients, schedule_admin, slots
from core.booking.closures import ClosureRequest
from core.booking.models import Appointment, Department, Doctor, Hospital, Schedule, Slot
from core.booking.schedule_admin import SessionInput
from core.errors import InvalidInput, NotFound
from core.timeutil import local_to_utc, utcnow
from tests.factories import slot_at, today_local
from tests.zalo_helpers import OA_ID

DAY = today_local() + dt.timedelta(days=2)
NAMES = {1: "Trần Thị Lan", 2: "Lê Văn Minh", 3: "Phạm Thu Hà"}


def ids(db) -> tuple[int, int, int]:
    """(hospital "test", its nhi department, hospital "other" — added here when missing)."""
    with db.uow() as uow:
        hospital = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        nhi = uow.session.scalar(select(Department.id).where(Department.slug == "nhi"))
        other = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "other"))
    if other is None:
        from tests.factories import add_hospital

        add_hospital(db, "other")
        return ids(db)
    return hospital, nhi, other


def session_input(department_id: int, **changes: object) -> SessionInput:
    values: dict = {
        "department_id": department_id,
        "weekday": DAY.weekday(),
        "part_of_day": "evening",
        "start_time": dt.time(17, 0),
        "end_time": dt.time(19, 0),
        "slot_minutes": 30,
        "capacity_per_slot": 2,
        "room": "Phòng tối",
    }
    values.update(changes)
    return SessionInput(**values)


def zalo_patient(db, n: int) -> tuple[int, int, str]:
    """A patient whose account is a Zalo user of the test OA: (account id, patient id, Zalo user id)."""
    user = f"user-{n}"
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", account_key(OA_ID, user))
    with db.uow() as uow:
        view, _ = patients.register_patient(
            uow,
            account_id=account_id,
            full_name=NAMES[n],
            date_of_birth=dt.date(1985, 1, n),
            sex="female",
            phone=f"09870000{n:02d}",
        )
    return account_id, view.id, user


def book(db, slot_id: int, account_id: int, patient_id: int) -> str:
    with db.uow() as uow:
        view, _ = appointments.book(
            uow,
            appointments.BookingRequest(slot_id=slot_id, patient_id=patient_id, channel="zalo", account_id=account_id),
        )
    return view.code


# --- sessions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_time": dt.time(19, 0), "end_time": dt.time(17, 0)}, "end_time"),
        ({"capacity_per_slot": 0}, "capacity_per_slot"),
        ({"slot_minutes": 45}, "slot_minutes"),  # 120 minutes are not whole 45-minute slots
        ({"slot_minutes": 180}, "slot_minutes"),  # longer than the session
        ({"part_of_day": "night"}, "part_of_day"),
        ({"weekday": 7}, "weekday"),
    ],
)
def test_a_session_that_cannot_be_booked_sensibly_is_refused_with_a_reason(db, world, changes, field):
    hospital, nhi, _ = ids(db)
    with db.uow() as uow, pytest.raises(InvalidInput) as refused:
        schedule_admin.create_session(uow, hospital, session_input(nhi, **changes))
    assert refused.value.details["field"] == field and refused.value.message_vi


def test_a_department_of_another_hospital_is_refused(db, world):
    _, nhi, other = ids(db)
    with db.uow() as uow, pytest.raises(InvalidInput, match="department_id"):
        schedule_admin.create_session(uow, other, session_input(nhi))


def test_a_new_session_gets_its_slots_and_an_edit_rebuilds_the_free_ones_but_keeps_booked_ones(db, world):
    hospital, nhi, _ = ids(db)
    with db.uow() as uow:
        view, made = schedule_admin.create_session(uow, hospital, session_input(nhi))
    assert made.created >= 4 and view.slots_per_session == 4  # 17:00 … 18:30, every week of the horizon
    held = slot_at(db, "nhi", DAY, "17:30")
    account_id, patient_id, _ = zalo_patient(db, 1)
    code = book(db, held, account_id, patient_id)

    with db.uow() as uow:  # 20-minute slots, 3 a slot: the free slots follow, the booked one stays as it was
        _, changed = schedule_admin.update_session(
            uow, hospital, view.id, session_input(nhi, slot_minutes=20, capacity_per_slot=3)
        )
    assert changed.kept_booked == 1 and changed.created > 0 and changed.removed > 0
    with db.reader() as uow:
        starts = uow.session.scalars(
            select(Slot.start_at).where(Slot.schedule_id == view.id, Slot.day == DAY, Slot.closed.is_(False))
        ).all()
        kept = uow.session.get(Slot, held)
        assert uow.session.scalar(select(Appointment.slot_id).where(Appointment.code == code)) == held
    assert f"{min(starts).astimezone(dt.UTC):%H:%M}" == f"{local_to_utc(DAY, dt.time(17, 0)):%H:%M}"
    assert len(starts) == 7  # six 20-minute slots and the booked 30-minute one
    assert kept.capacity == 2 and kept.booked == 1

    with db.uow() as uow:
        _, stopped = schedule_admin.deactivate_session(uow, hospital, view.id)
    assert stopped.kept_booked == 1
    with db.reader() as uow:
        left = uow.session.scalars(select(Slot.id).where(Slot.schedule_id == view.id, Slot.closed.is_(False))).all()
        assert left == [held]
        assert [s.id for s in schedule_admin.list_sessions(uow, hospital) if not s.active] == [view.id]


def test_another_hospitals_session_is_not_found(db, world):
    _, nhi, other = ids(db)
    with db.reader() as uow:
        schedule_id = uow.session.scalar(select(Schedule.id).limit(1))
    with db.uow() as uow, pytest.raises(NotFound):
        schedule_admin.update_session(uow, other, schedule_id, session_input(nhi))
    with db.uow() as uow, pytest.raises(NotFound):
        schedule_admin.deactivate_session(uow, other, schedule_id)


# --- closures -------------------------------------------------------------------------------------------------


class RecordingNotifier:
    def __init__(self) -> None:
        self.notices: list[closures.ClosureNotice] = []

    def queue(self, uow, notice, now):
        self.notices.append(notice)
        return True


def free_on(db, day: dt.date) -> list:
    with db.reader() as uow:
        return slots.search_slots(uow, hospital_slug="test", department_slug="nhi", day=day, limit=50)


def test_closing_a_day_without_bookings_cancels_nothing_and_stops_offering_it(db, world):
    hospital, nhi, _ = ids(db)
    assert free_on(db, DAY)
    notifier = RecordingNotifier()
    request = ClosureRequest(start=DAY, end=DAY, reason="holiday", department_id=nhi)
    with db.uow() as uow:
        assert closures.closure_impact(uow, hospital, request) == []
        result = closures.close(uow, hospital, request, notifier)
    assert (result.cancelled, result.notified, notifier.notices) == (0, 0, [])
    assert free_on(db, DAY) == []
    with db.reader() as uow:
        listed = closures.list_closures(uow, hospital)
    assert [(c.scope_vi, c.reason) for c in listed] == [("Khoa Nhi", "Nghỉ lễ")]


@pytest.mark.parametrize(
    ("request_values", "field"),
    [
        ({"start": DAY, "end": DAY - dt.timedelta(days=1), "reason": "holiday"}, "end"),
        ({"start": today_local() - dt.timedelta(days=1), "end": DAY, "reason": "holiday"}, "start"),
        ({"start": DAY, "end": DAY, "reason": "other"}, "note"),  # "other" needs the reason written
        ({"start": DAY, "end": DAY, "reason": "weather"}, "reason"),
    ],
)
def test_a_closure_that_makes_no_sense_is_refused(db, world, request_values, field):
    hospital, _, _ = ids(db)
    with db.uow() as uow, pytest.raises(InvalidInput) as refused:
        closures.closure_impact(uow, hospital, ClosureRequest(**request_values))
    assert refused.value.details["field"] == field


def test_closing_a_day_with_bookings_cancels_them_by_the_hospital_and_tells_each_patient_once(db, oa_world):
    hospital, nhi, _ = ids(db)
    booked = []
    for n, hhmm in ((1, "09:00"), (2, "09:30")):
        account_id, patient_id, user = zalo_patient(db, n)
        booked.append((book(db, slot_at(db, "nhi", DAY, hhmm), account_id, patient_id), user))
    elsewhere = book(db, slot_at(db, "mat", DAY, "09:00"), *zalo_patient(db, 3)[:2])
    request = ClosureRequest(start=DAY, end=DAY, reason="doctor_away", note="bác sĩ đi tập huấn", department_id=nhi)

    with db.uow() as uow:
        hit = closures.closure_impact(uow, hospital, request)
    assert [h.code for h in hit] == [code for code, _ in booked]
    assert hit[0].patient_masked == "T. T. Lan" and hit[0].phone_masked == "098****001"

    with db.uow() as uow:
        result = closures.close(uow, hospital, request, ZaloClosureNotifier())
    assert (result.cancelled, result.notified, result.skipped) == (2, 2, 0)
    with db.uow() as uow:  # the same request again (a retry, a double click): nothing more
        again = closures.close(uow, hospital, request, ZaloClosureNotifier())
    assert (again.closure_id, again.cancelled, again.notified) == (result.closure_id, 0, 0)

    with db.reader() as uow:
        for code, user in booked:
            a = uow.session.scalar(select(Appointment).where(Appointment.code == code))
            assert (a.status, a.cancelled_by, a.cancel_reason) == (
                "cancelled",
                "hospital",
                "Bác sĩ vắng: bác sĩ đi tập huấn",
            )
            sent = uow.session.scalars(select(OutboundMessage).where(OutboundMessage.user_id == user)).all()
            assert [(m.purpose, m.idempotency_key) for m in sent] == [
                ("closure", f"closure:{result.closure_id}:{a.id}")
            ]
            message = OutgoingMessage.from_json(sent[0].body)
            assert message.text.startswith("Dạ, Bệnh viện Thử nghiệm xin lỗi anh/chị")
            assert code in message.text and "bác sĩ vắng mặt" in message.text
            offered = [b for b in message.buttons if b.payload.startswith("/rebook_closed")]
            assert 1 <= len(offered) <= 3 and [b.title for b in message.buttons][-2:] == [
                "Chọn giờ khác",
                "Gặp nhân viên",
            ]
        assert uow.session.scalar(select(Appointment.status).where(Appointment.code == elsewhere)) == "booked"
        assert uow.session.scalar(select(func.count()).select_from(OutboundMessage)) == 2
    assert free_on(db, DAY) == []  # the closed day is no longer offered


def test_an_offered_slot_tapped_books_it_for_the_same_patient_once(db, oa_world):
    hospital, _, _ = ids(db)
    account_id, patient_id, user = zalo_patient(db, 1)
    code = book(db, slot_at(db, "nhi", DAY, "09:00"), account_id, patient_id)
    notifier = RecordingNotifier()
    with db.uow() as uow:
        closures.close(uow, hospital, ClosureRequest(start=DAY, end=DAY, reason="holiday"), notifier)
    (notice,) = notifier.notices
    first, second = notice.offers[:2]
    assert first.day == DAY + dt.timedelta(days=1) and [f"{s.start:%H:%M}" for s in notice.offers] == [
        "08:30",
        "09:00",
        "09:30",
    ]  # the first open day after the closure, the times nearest the visit's

    with db.uow() as uow:
        reply = closure_notices.answer_rebook(uow, OA_ID, user, rebook_payload(code, first.id), utcnow())
        uow.commit()
    with db.uow() as uow:  # another offered slot tapped after: the first booking stands, none is added
        again = closure_notices.answer_rebook(uow, OA_ID, user, rebook_payload(code, second.id), utcnow())
        uow.commit()
    assert reply.text.startswith("Dạ, em đã đặt lại lịch khám Nhi") and "Mã lịch hẹn mới" in reply.text
    with db.reader() as uow:
        live = uow.session.scalars(
            select(Appointment).where(Appointment.patient_id == patient_id, Appointment.status == "booked")
        ).all()
    assert [(a.slot_id, a.code in reply.text) for a in live] == [(first.id, True)]
    assert live[0].code in again.text

    with db.uow() as uow:  # another Zalo user cannot use the payload of someone else's notice
        refused = closure_notices.answer_rebook(uow, OA_ID, "someone-else", rebook_payload(code, second.id), utcnow())
    assert refused.text == "Dạ, em không tìm thấy lịch hẹn này của anh/chị ạ."


def test_a_doctors_closure_hits_only_that_doctors_bookings(db, world):
    hospital, nhi, _ = ids(db)
    with db.uow() as uow:
        doctor = Doctor(hospital_id=hospital, department_id=nhi, full_name="BS. Võ Thị Hoa")
        uow.session.add(doctor)
        uow.commit()
        doctor_id = doctor.id
    with db.uow() as uow:
        schedule_admin.create_session(uow, hospital, session_input(nhi, doctor_id=doctor_id))
    account_id, patient_id, _ = zalo_patient(db, 1)
    with db.reader() as uow:
        doctor_slot = uow.session.scalar(
            select(Slot.id).where(Slot.doctor_id == doctor_id, Slot.day == DAY).order_by(Slot.start_at).limit(1)
        )
    theirs = book(db, doctor_slot, account_id, patient_id)
    other_account, other_patient, _ = zalo_patient(db, 2)
    general = book(db, slot_at(db, "nhi", DAY, "09:00"), other_account, other_patient)
    request = ClosureRequest(start=DAY, end=DAY + dt.timedelta(days=6), reason="doctor_away", doctor_id=doctor_id)
    with db.uow() as uow:
        assert [h.code for h in closures.closure_impact(uow, hospital, request)] == [theirs]
        result = closures.close(uow, hospital, request, RecordingNotifier())
        (listed,) = closures.list_closures(uow, hospital)
    assert result.cancelled == 1 and listed.scope_vi == "Bác sĩ BS. Võ Thị Hoa"
    with db.reader() as uow:
        assert uow.session.scalar(select(Appointment.status).where(Appointment.code == general)) == "booked"


def test_a_patient_who_booked_outside_zalo_is_told_by_zns_through_the_hospitals_oa(db, oa_world):
    hospital, _, _ = ids(db)
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "kiosk", "kiosk-7")
    with db.uow() as uow:
        patient, _ = patients.register_patient(
            uow,
            account_id=account_id,
            full_name="Phạm Thu Hà",
            date_of_birth=dt.date(1990, 5, 5),
            sex="female",
            phone="0987000009",
        )
    book(db, slot_at(db, "mat", DAY, "09:00"), account_id, patient.id)
    with db.uow() as uow:
        result = closures.close(
            uow, hospital, ClosureRequest(start=DAY, end=DAY, reason="holiday"), ZaloClosureNotifier()
        )
    assert (result.cancelled, result.notified) == (1, 1)
    with db.reader() as uow:
        (sent,) = uow.session.scalars(select(OutboundMessage)).all()
    assert (sent.oa_id, sent.user_id, sent.phone, sent.purpose) == (OA_ID, None, "+84987000009", "closure")
    assert OutgoingMessage.from_json(sent.body).zns_data["reason"] == "bệnh viện nghỉ lễ"
