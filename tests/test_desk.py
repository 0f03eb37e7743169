"""The reception desk's services (core/booking/desk.py): look-up by code or phone, check-in with its timing,
today's list. On SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.audit import AccessAudit, Actor
from core.booking import appointments, checkin, desk
from core.booking.models import Hospital
from core.errors import DomainError, InvalidInput, NotFound
from core.staff.models import ReceptionTiming
from tests import factories
from tests.conftest import NOW
from tests.factories import add_hospital, new_patient, slot_at

TODAY = dt.date(2026, 12, 7)
TOMORROW = TODAY + dt.timedelta(days=1)
AT_DESK = dt.datetime(2026, 12, 8, 0, 30, tzinfo=dt.UTC)  # 07:30 local tomorrow
LATER = AT_DESK + dt.timedelta(seconds=18)

pytestmark = pytest.mark.world(start=TODAY, days=5)


def book(db, world, department, hhmm, n=0, day=TOMORROW, **kw):
    patient = new_patient(db, world.account_id, n, **kw.pop("patient", {}))
    return factories.book(db, world, slot_at(db, department, day, hhmm), patient, now=NOW, **kw)


def hospital(db, slug="test") -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))


def timings(db) -> list[ReceptionTiming]:
    with db.reader() as uow:
        return list(uow.session.scalars(select(ReceptionTiming).order_by(ReceptionTiming.id)))


def test_look_up_shows_the_booking_and_records_the_time_then_check_in_stamps_it(db, world):
    appt = book(db, world, "nhi", "08:00", visit_type="bhyt")
    test = hospital(db)
    with db.uow() as uow:
        found = desk.desk_lookup(uow, test, f" {appt.code.lower()}\n", staff_id=None, desk="Quầy 1", now=AT_DESK)
        uow.commit()
    booking = found.booking
    assert (booking.code, booking.state, booking.queue_number) == (appt.code, "booked", appt.queue_number)
    assert (booking.patient_name, booking.phone_masked) == ("Nguyễn Văn Thử 0", "091****678")
    assert (booking.department_name, booking.room, booking.visit_type_name) == ("Nhi", "Phòng Nhi", "Khám BHYT")
    assert booking.start.strftime("%H:%M %d/%m") == "08:00 08/12"
    assert any("BHYT" in need for need in booking.still_needed)
    assert any("CCCD" in need for need in booking.still_needed)
    [timing] = timings(db)
    assert (timing.id, timing.desk, timing.lookup_kind) == (found.timing_id, "Quầy 1", "code")
    assert timing.checked_in_at is None
    with db.uow() as uow:
        done = desk.desk_check_in(
            uow, test, booking.appointment_id, timing_id=found.timing_id, staff_id=None, now=LATER
        )
        uow.commit()
    assert not done.already_checked_in and done.booking.state == "checked_in"
    assert done.booking.queue_number == appt.queue_number and done.booking.hospital_name == "Bệnh viện Thử nghiệm"
    [timing] = timings(db)
    assert timing.checked_in_at is not None and (timing.checked_in_at - timing.looked_up_at).total_seconds() == 18
    with db.reader() as uow:
        assert appointments.get_appointment(uow, appt.code).status == "checked_in"


def test_a_second_enter_shows_the_slip_again_and_a_new_look_up_of_a_checked_in_booking_times_nothing(db, world):
    appt = book(db, world, "nhi", "08:00")
    test = hospital(db)
    with db.uow() as uow:
        found = desk.desk_lookup(uow, test, appt.code, staff_id=None, now=AT_DESK)
        desk.desk_check_in(uow, test, found.booking.appointment_id, timing_id=found.timing_id, staff_id=None, now=LATER)
        uow.commit()
    with db.uow() as uow:
        again = desk.desk_check_in(
            uow, test, found.booking.appointment_id, timing_id=found.timing_id, staff_id=None, now=LATER
        )
        uow.commit()
    assert again.already_checked_in and again.booking.state == "checked_in"
    with db.uow() as uow:
        shown = desk.desk_lookup(uow, test, appt.code, staff_id=None, now=LATER)
        uow.commit()
    assert shown.timing_id is None and shown.booking.state == "checked_in" and shown.booking.checked_in_at
    assert len(timings(db)) == 1


def test_the_cli_and_the_desk_share_one_check_in(db, world):
    appt = book(db, world, "nhi", "08:00")
    with db.uow() as uow:
        checkin.check_in(uow, appt.code, channel="cli", now=AT_DESK)
    with db.uow() as uow:
        done = desk.desk_check_in(uow, hospital(db), appt_id(db, appt.code), timing_id=None, staff_id=None, now=LATER)
    assert done.already_checked_in


def appt_id(db, code: str) -> int:
    from core.booking.models import Appointment

    with db.reader() as uow:
        return uow.session.scalar(select(Appointment.id).where(Appointment.code == code))


def test_refusals_are_clear_and_worded_for_staff(db, world):
    test = hospital(db)
    with db.uow() as uow, pytest.raises(InvalidInput) as info:
        desk.desk_lookup(uow, test, "ab!", staff_id=None, now=AT_DESK)
    assert "6 ký tự" in info.value.message_vi
    with db.uow() as uow, pytest.raises(NotFound) as info:
        desk.desk_lookup(uow, test, "ZZZZZZ", staff_id=None, now=AT_DESK)
    assert info.value.message_vi.startswith("Không tìm thấy lịch hẹn")
    later = book(db, world, "nhi", "09:00", 1, day=TOMORROW + dt.timedelta(days=1))
    with db.uow() as uow, pytest.raises(DomainError) as info:
        desk.desk_lookup(uow, test, later.code, staff_id=None, now=AT_DESK)
    assert info.value.code == "wrong_day" and "09/12/2026" in info.value.message_vi
    assert "Dạ" not in info.value.message_vi
    cancelled = book(db, world, "mat", "09:00", 2)
    with db.uow() as uow:
        appointments.cancel(uow, cancelled.code, by="patient", channel="test", now=NOW)
    with db.uow() as uow, pytest.raises(DomainError) as info:
        desk.desk_lookup(uow, test, cancelled.code, staff_id=None, now=AT_DESK)
    assert info.value.code == "not_checkin_able" and "đã bị hủy (người bệnh hủy)" in info.value.message_vi
    assert timings(db) == []


def test_another_hospitals_booking_is_not_found_not_hinted(db, world):
    appt = book(db, world, "nhi", "08:00")
    add_hospital(db, "other")
    other = hospital(db, "other")
    with db.uow() as uow, pytest.raises(NotFound):
        desk.desk_lookup(uow, other, appt.code, staff_id=None, now=AT_DESK)
    with db.uow() as uow, pytest.raises(NotFound):
        desk.desk_check_in(uow, other, appt_id(db, appt.code), timing_id=None, staff_id=None, now=AT_DESK)
    with db.uow() as uow, pytest.raises(NotFound):
        desk.desk_lookup_by_phone(uow, other, "0912345678", TOMORROW, now=AT_DESK)
    with db.reader() as uow:
        assert desk.todays_list(uow, other, TOMORROW).rows == []
        assert appointments.get_appointment(uow, appt.code).status == "booked"


def test_a_forged_timing_of_another_appointment_is_not_stamped(db, world):
    first = book(db, world, "nhi", "08:00")
    second = book(db, world, "nhi", "08:30", 1)
    test = hospital(db)
    with db.uow() as uow:
        found = desk.desk_lookup(uow, test, first.code, staff_id=None, now=AT_DESK)
        uow.commit()
    with db.uow() as uow:
        desk.desk_check_in(uow, test, appt_id(db, second.code), timing_id=found.timing_id, staff_id=None, now=LATER)
        uow.commit()
    assert [t.checked_in_at for t in timings(db)] == [None]


def test_phone_fallback_lists_that_days_bookings_of_the_phone(db, world):
    mother = book(db, world, "nhi", "08:00", 1, patient={"phone": "0912000111"})
    child = book(db, world, "mat", "09:00", 2, patient={"phone": "0912000111", "relation": "child"})
    book(db, world, "mat", "09:00", 3)  # another phone
    test = hospital(db)
    with db.reader() as uow:
        found = desk.desk_lookup_by_phone(uow, test, "84 912 000 111", TOMORROW, now=AT_DESK)
    assert [b.code for b in found] == [mother.code, child.code]
    assert {b.phone_masked for b in found} == {"091****111"}
    with db.reader() as uow, pytest.raises(NotFound) as info:
        desk.desk_lookup_by_phone(uow, test, "0912000111", TODAY, now=AT_DESK)
    assert "07/12/2026" in info.value.message_vi
    with db.reader() as uow, pytest.raises(InvalidInput):
        desk.desk_lookup_by_phone(uow, test, "12", TODAY, now=AT_DESK)
    with db.uow() as uow:
        picked = desk.desk_lookup(uow, test, child.code, staff_id=None, kind="phone", now=AT_DESK)
        uow.commit()
    assert picked.booking.patient_name == "Nguyễn Văn Thử 2" and timings(db)[0].lookup_kind == "phone"


def test_todays_list_states_filters_and_search(db, world):
    test = hospital(db)
    booked = book(db, world, "nhi", "08:00", 1, patient={"full_name": "Trần Thị Lan"})
    confirmed = book(db, world, "nhi", "08:30", 2, patient={"phone": "0987654321"})
    arrived = book(db, world, "mat", "09:00", 3)
    gone = book(db, world, "mat", "14:00", 4)
    book(db, world, "nhi", "08:00", 5, day=TOMORROW + dt.timedelta(days=1))  # another day
    with db.uow() as uow:
        appointments.confirm_attendance(uow, confirmed.code, channel="test", now=NOW)
    with db.uow() as uow:
        checkin.check_in(uow, arrived.code, channel="desk", now=AT_DESK)
    with db.uow() as uow:
        appointments.cancel(uow, gone.code, by="patient", channel="test", now=NOW)
    with db.reader() as uow:
        whole = desk.todays_list(uow, test, TOMORROW)
        nhi = desk.todays_list(uow, test, TOMORROW, department="nhi")
        checked = desk.todays_list(uow, test, TOMORROW, status="checked_in")
        by_name = desk.todays_list(uow, test, TOMORROW, query="thị lan")
        by_phone = desk.todays_list(uow, test, TOMORROW, query="0987 654")
        by_code = desk.todays_list(uow, test, TOMORROW, query=arrived.code.lower())
        wildcard = desk.todays_list(uow, test, TOMORROW, query="%")
        capped = desk.todays_list(uow, test, TOMORROW, limit=2)
    assert [(r.code, r.state) for r in whole.rows] == [
        (booked.code, "booked"),
        (confirmed.code, "confirmed"),
        (arrived.code, "checked_in"),
        (gone.code, "cancelled"),
    ]
    assert whole.counts["booked"] == 1 and whole.counts["checked_in"] == 1 and whole.counts["no_show"] == 0
    assert [r.code for r in nhi.rows] == [booked.code, confirmed.code] and nhi.counts["cancelled"] == 0
    assert [r.code for r in checked.rows] == [arrived.code] and checked.rows[0].checked_in_at is not None
    assert [r.code for r in by_name.rows] == [booked.code]
    assert [r.code for r in by_phone.rows] == [confirmed.code] and by_phone.rows[0].phone_masked == "098****321"
    assert [r.code for r in by_code.rows] == [arrived.code]
    assert wildcard.rows == []
    assert len(capped.rows) == 2 and capped.capped and not whole.capped


def test_reads_of_a_staff_member_are_audited(db, world):
    appt = book(db, world, "nhi", "08:00")
    test = hospital(db)
    with db.uow() as uow:
        uow.actor = Actor(kind="staff", client_id=7, client_name="le-tan", hospital_id=test, purpose="desk")
        found = desk.desk_lookup(uow, test, appt.code, staff_id=None, now=AT_DESK)
        uow.commit()
    with db.uow() as uow:  # the check-in shows the patient again, on the slip: a read too
        uow.actor = Actor(kind="staff", client_id=7, client_name="le-tan", hospital_id=test, purpose="desk")
        desk.desk_check_in(
            uow, test, found.booking.appointment_id, timing_id=found.timing_id, staff_id=None, now=AT_DESK
        )
        uow.commit()
    with db.reader() as uow:
        rows = uow.session.execute(select(AccessAudit.actor_name, AccessAudit.record_kind)).all()
    assert [tuple(r) for r in rows] == [("le-tan", "appointment")] * 2
