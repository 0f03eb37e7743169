"""Every booking rule: an allowed case and a refused one, with the code and message a client sees."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.booking import appointments, slots
from core.booking.appointments import BookingRequest
from core.booking.models import Appointment, Doctor, Slot
from core.errors import DomainError, NotFound
from tests import factories
from tests.conftest import NOW
from tests.factories import build_world, new_patient, slot_at

TODAY = dt.date(2026, 12, 7)  # NOW is 08:00 local on this Monday


pytestmark = pytest.mark.world(
    start=TODAY,
    days=45,
    booking_horizon_days=30,
    min_lead_minutes=60,
    change_cutoff_minutes=120,
    max_active_appointments=2,
)


def book(db, world, slot_id, patient_id, now=NOW, **kw):
    return factories.book(db, world, slot_id, patient_id, now=now, **kw)


def refused(fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    error = info.value
    assert error.message and error.message_vi.startswith("Dạ"), "every refusal explains itself to the patient"
    return error


def test_horizon_allows_the_last_day_and_refuses_the_day_after(db, world):
    patient = new_patient(db, world.account_id)
    last_day = TODAY + dt.timedelta(days=30)
    assert book(db, world, slot_at(db, "nhi", last_day, "07:00"), patient).day == last_day
    error = refused(book, db, world, slot_at(db, "mat", last_day + dt.timedelta(days=1), "07:00"), patient)
    assert error.code == "beyond_horizon"
    assert "30 ngày" in error.message_vi


def test_minimum_lead_time(db, world):
    patient = new_patient(db, world.account_id)
    assert (
        book(db, world, slot_at(db, "nhi", TODAY, "09:00"), patient).queue_number == 9
    )  # 60 min ahead: allowed; 5th slot
    error = refused(book, db, world, slot_at(db, "mat", TODAY, "08:30"), patient)  # 30 min ahead
    assert error.code == "too_late_to_book"
    error = refused(book, db, world, slot_at(db, "mat", TODAY, "07:30"), patient)  # already started
    assert error.code == "slot_in_past"


def test_max_active_appointments(db, world):
    patient = new_patient(db, world.account_id)
    book(db, world, slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00"), patient)
    book(db, world, slot_at(db, "nhi", TODAY + dt.timedelta(days=2), "07:00"), patient)
    error = refused(book, db, world, slot_at(db, "nhi", TODAY + dt.timedelta(days=3), "07:00"), patient)
    assert error.code == "too_many_active" and "tối đa 2" in error.message_vi
    # Another profile of the same account is counted on its own.
    child = new_patient(db, world.account_id, 1, relation="child")
    assert book(db, world, slot_at(db, "nhi", TODAY + dt.timedelta(days=3), "07:00"), child).status == "booked"


def test_one_appointment_per_department_session(db, world):
    patient = new_patient(db, world.account_id)
    day = TODAY + dt.timedelta(days=1)
    first = book(db, world, slot_at(db, "nhi", day, "07:00"), patient)
    error = refused(book, db, world, slot_at(db, "nhi", day, "09:00"), patient)
    assert error.code == "duplicate_in_session" and error.details["existing_code"] == first.code
    # The afternoon session and another department the same morning are allowed.
    assert book(db, world, slot_at(db, "mat", day, "09:00"), patient).status == "booked"


def test_one_per_session_rule_can_be_switched_off(db):
    world = build_world(db, start=TODAY, days=3, one_appointment_per_session=False)
    patient = new_patient(db, world.account_id)
    day = TODAY + dt.timedelta(days=1)
    book(db, world, slot_at(db, "nhi", day, "07:00"), patient)
    assert book(db, world, slot_at(db, "nhi", day, "09:00"), patient).status == "booked"


def test_full_slot_is_refused_and_queue_numbers_follow_time(db, world):
    day = TODAY + dt.timedelta(days=1)
    first_slot, second_slot = slot_at(db, "nhi", day, "07:00"), slot_at(db, "nhi", day, "07:30")
    late = book(db, world, second_slot, new_patient(db, world.account_id, 1))
    a = book(db, world, first_slot, new_patient(db, world.account_id, 2))
    b = book(db, world, first_slot, new_patient(db, world.account_id, 3))
    # Capacity 2 per slot: 07:00 holds numbers 1-2, 07:30 holds 3-4, whatever the booking order.
    assert (a.queue_number, b.queue_number, late.queue_number) == (1, 2, 3)
    error = refused(book, db, world, first_slot, new_patient(db, world.account_id, 4))
    assert error.code == "slot_full"


def test_closed_slot_is_not_offered_and_not_bookable(db, world):
    day = TODAY + dt.timedelta(days=2)
    patient = new_patient(db, world.account_id)
    booked = book(db, world, slot_at(db, "nhi", day, "07:00"), patient)
    with db.uow() as uow:
        hit = slots.add_closure(uow, hospital_slug="test", start=day, end=day, reason="Nghỉ lễ", department_slug="nhi")
    assert hit == [booked.code], "staff learn which bookings the closure hits"
    error = refused(book, db, world, slot_at(db, "nhi", day, "09:00"), new_patient(db, world.account_id, 5))
    assert error.code == "slot_unavailable"
    with db.uow() as uow:
        offered = slots.search_slots(uow, hospital_slug="test", department_slug="nhi", day=day, now=NOW)
        other = slots.search_slots(uow, hospital_slug="test", department_slug="mat", day=day, now=NOW)
    assert offered == [] and len(other) == 5


def test_idempotency_key_creates_one_appointment(db, world):
    patient = new_patient(db, world.account_id)
    slot_id = slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00")
    first = book(db, world, slot_id, patient, idempotency_key="req-1")
    again = book(db, world, slot_id, patient, idempotency_key="req-1")
    assert again.code == first.code
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Appointment)) == 1
        assert uow.session.get(Slot, slot_id).booked == 1
    other = new_patient(db, world.account_id, 7)
    error = refused(book, db, world, slot_id, other, idempotency_key="req-1")
    assert error.code == "conflict"


def test_cancel_cutoff_and_seat_released(db, world):
    patient = new_patient(db, world.account_id)
    slot_id = slot_at(db, "nhi", TODAY, "10:30")
    appt = book(db, world, slot_id, patient)
    # 10:30 visit, 120 min cut-off: at 08:30 local it is allowed, at 08:31 it is not.
    too_late = NOW + dt.timedelta(minutes=31)
    with db.uow() as uow:
        error = refused(appointments.cancel, uow, appt.code, by="patient", channel="test", now=too_late)
    assert error.code == "change_cutoff_passed"
    with db.uow() as uow:
        # The hospital may still cancel after the cut-off, with a reason.
        done = appointments.cancel(
            uow, appt.code, by="hospital", reason="Bác sĩ đi công tác", channel="t", now=too_late
        )
    assert done.status == "cancelled" and done.cancelled_by == "hospital"
    with db.uow() as uow:
        assert uow.session.get(Slot, slot_id).booked == 0
        again = appointments.cancel(uow, appt.code, by="patient", channel="test", now=too_late)
    assert again.status == "cancelled", "cancelling twice is harmless"


def test_patient_cancel_before_cutoff_frees_the_queue_number(db, world):
    slot_id = slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00")
    first = book(db, world, slot_id, new_patient(db, world.account_id, 1))
    with db.uow() as uow:
        appointments.cancel(uow, first.code, by="patient", channel="test", now=NOW)
    replacement = book(db, world, slot_id, new_patient(db, world.account_id, 2))
    assert replacement.queue_number == first.queue_number == 1


def test_hospital_cancel_needs_a_reason(db, world):
    appt = book(db, world, slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00"), new_patient(db, world.account_id))
    with db.uow() as uow:
        error = refused(appointments.cancel, uow, appt.code, by="hospital", channel="t", now=NOW)
    assert error.code == "invalid_input"


def test_reschedule_moves_atomically_and_keeps_the_code(db, world):
    day = TODAY + dt.timedelta(days=1)
    old_slot, new_slot = slot_at(db, "nhi", day, "07:00"), slot_at(db, "nhi", day + dt.timedelta(days=1), "08:00")
    appt = book(db, world, old_slot, new_patient(db, world.account_id))
    with db.uow() as uow:
        moved = appointments.reschedule(uow, appt.code, new_slot, channel="test", now=NOW)
    assert moved.code == appt.code and moved.day == day + dt.timedelta(days=1)
    assert moved.queue_number == 5  # 08:00 is the third 30-min slot of capacity 2
    with db.uow() as uow:
        assert uow.session.get(Slot, old_slot).booked == 0
        assert uow.session.get(Slot, new_slot).booked == 1


def test_reschedule_into_a_full_slot_changes_nothing(db, world):
    day = TODAY + dt.timedelta(days=1)
    full = slot_at(db, "nhi", day, "09:00")
    book(db, world, full, new_patient(db, world.account_id, 1))
    book(db, world, full, new_patient(db, world.account_id, 2))
    old_slot = slot_at(db, "nhi", day, "07:00")
    appt = book(db, world, old_slot, new_patient(db, world.account_id, 3))
    with db.uow() as uow:
        error = refused(appointments.reschedule, uow, appt.code, full, channel="test", now=NOW)
    assert error.code == "slot_full"
    with db.uow() as uow:
        still = appointments.get_appointment(uow, appt.code)
        assert (still.status, still.queue_number, still.start) == ("booked", appt.queue_number, appt.start)
        assert uow.session.get(Slot, old_slot).booked == 1 and uow.session.get(Slot, full).booked == 2


def test_reschedule_respects_cutoff_and_department(db, world):
    appt = book(db, world, slot_at(db, "nhi", TODAY, "10:30"), new_patient(db, world.account_id))
    later = slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00")
    with db.uow() as uow:
        error = refused(appointments.reschedule, uow, appt.code, later, channel="t", now=NOW + dt.timedelta(minutes=45))
    assert error.code == "change_cutoff_passed"
    with db.uow() as uow:
        error = refused(
            appointments.reschedule,
            uow,
            appt.code,
            slot_at(db, "mat", TODAY + dt.timedelta(days=1), "07:00"),
            channel="t",
            now=NOW,
        )
    assert error.code == "invalid_input"
    with db.uow() as uow:
        assert appointments.reschedule(uow, appt.code, later, channel="t", now=NOW).day == TODAY + dt.timedelta(days=1)


def test_reschedule_within_the_same_session_is_allowed(db, world):
    day = TODAY + dt.timedelta(days=1)
    appt = book(db, world, slot_at(db, "nhi", day, "07:00"), new_patient(db, world.account_id))
    with db.uow() as uow:
        moved = appointments.reschedule(uow, appt.code, slot_at(db, "nhi", day, "10:00"), channel="t", now=NOW)
    assert moved.start.hour == 10


def test_accounts_only_see_their_own_patients(db, world):
    patient = new_patient(db, world.account_id)
    appt = book(db, world, slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00"), patient)
    from core.booking.patients import get_or_create_account

    with db.uow() as uow:
        stranger = get_or_create_account(uow, "test", "someone-else")
    with db.uow() as uow, pytest.raises(NotFound):
        appointments.get_appointment(uow, appt.code, stranger)
    with db.uow() as uow, pytest.raises(NotFound):
        appointments.book(
            uow, BookingRequest(slot_id=appt_slot(db, appt.code), patient_id=patient, channel="t", account_id=stranger)
        )
    with db.uow() as uow:
        assert appointments.get_appointment(uow, appt.code.lower(), world.account_id).code == appt.code


def appt_slot(db, code):
    with db.uow() as uow:
        return appointments.find_appointment(uow, code).slot_id


def test_slot_search_offers_the_nearest_free_slots(db, world):
    with db.uow() as uow:
        found = slots.search_slots(uow, hospital_slug="test", department_slug="nhi", limit=3, now=NOW)
    # 08:00 now + 60 min lead → 09:00 is the first bookable slot.
    assert [s.start.strftime("%H:%M") for s in found] == ["09:00", "09:30", "10:00"]
    with db.uow() as uow:
        afternoon = slots.search_slots(
            uow, hospital_slug="test", department_slug="nhi", part_of_day="afternoon", limit=2, now=NOW
        )
        tomorrow = slots.search_slots(
            uow, hospital_slug="test", department_slug="nhi", day=TODAY + dt.timedelta(days=1), limit=50, now=NOW
        )
    assert [s.start.strftime("%H:%M") for s in afternoon] == ["13:30", "14:00"]
    assert len(tomorrow) == 14 and all(s.free == 2 for s in tomorrow)
    with db.uow() as uow:
        beyond = slots.search_slots(
            uow, hospital_slug="test", department_slug="nhi", day=TODAY + dt.timedelta(days=31), now=NOW
        )
    assert beyond == [], "nothing beyond the booking horizon is offered"


def test_the_booking_answer_is_the_stored_appointment(db, world):
    """What book() answers is built from the rows it wrote; it must be what a later lookup shows."""
    day = TODAY + dt.timedelta(days=1)
    slot_id = slot_at(db, "nhi", day, "07:30")
    with db.uow() as uow:
        slot = uow.session.get(Slot, slot_id)
        doctor = Doctor(hospital_id=slot.hospital_id, department_id=slot.department_id, full_name="BS. Trần Thị Mai")
        uow.session.add(doctor)
        uow.session.flush()
        slot.doctor_id = doctor.id
        uow.commit()
    with_type = book(db, world, slot_id, new_patient(db, world.account_id, 1), visit_type="dich_vu", reason=" ho ")
    without_type = book(db, world, slot_at(db, "mat", day, "13:30"), new_patient(db, world.account_id, 2))
    with db.uow() as uow:
        assert appointments.get_appointment(uow, with_type.code) == with_type
        assert appointments.get_appointment(uow, without_type.code) == without_type
    assert (with_type.doctor, with_type.visit_type, with_type.queue_number) == ("BS. Trần Thị Mai", "dich_vu", 3)
    assert (without_type.doctor, without_type.visit_type) == (None, None)


def test_a_freed_number_inside_the_slot_is_given_again(db, world):
    slot_id = slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:30")  # numbers 3 and 4
    first = book(db, world, slot_id, new_patient(db, world.account_id, 1))
    second = book(db, world, slot_id, new_patient(db, world.account_id, 2))
    with db.uow() as uow:
        appointments.cancel(uow, second.code, by="patient", channel="test", now=NOW)
    third = book(db, world, slot_id, new_patient(db, world.account_id, 3))
    assert (first.queue_number, second.queue_number, third.queue_number) == (3, 4, 4)


def test_a_booking_code_already_taken_is_drawn_again(db, world, monkeypatch):
    day = TODAY + dt.timedelta(days=1)
    taken = book(db, world, slot_at(db, "nhi", day, "07:00"), new_patient(db, world.account_id, 1))
    draws = iter([taken.code, taken.code, "KHAM23"])
    monkeypatch.setattr(appointments, "new_booking_code", lambda: next(draws))
    fresh = book(db, world, slot_at(db, "mat", day, "07:00"), new_patient(db, world.account_id, 2))
    assert fresh.code == "KHAM23"
    with db.uow() as uow:
        assert appointments.get_appointment(uow, taken.code).patient_id != fresh.patient_id
        assert uow.session.scalar(select(func.count()).select_from(Appointment)) == 2


def test_a_conversation_books_only_a_slot_of_the_place_the_patient_confirmed(db, world):
    # A chat user once sent another department's (another hospital's) slot id: the summary they confirmed named
    # one place, the booking was made at another. The place they confirmed now travels with the request.
    patient = new_patient(db, world.account_id)
    eye_slot = slot_at(db, "mat", TODAY + dt.timedelta(days=2), "07:00")
    error = refused(book, db, world, eye_slot, patient, place=("test", "nhi"))
    assert error.code == "slot_elsewhere"
    with db.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Appointment)) == 0
    assert book(db, world, eye_slot, patient, place=("test", "mat")).department == "mat"
