"""Check-in at the desk and no-show marking (services; the API and CLI call the same ones)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.booking import appointments, checkin
from core.errors import Conflict, DomainError, NotFound
from core.tenancy import OtherHospital
from tests import factories
from tests.conftest import NOW
from tests.factories import new_patient, slot_at

TODAY = dt.date(2026, 12, 7)
TOMORROW = TODAY + dt.timedelta(days=1)
AT_DESK = dt.datetime(2026, 12, 8, 0, 30, tzinfo=dt.UTC)  # 07:30 local tomorrow


pytestmark = pytest.mark.world(start=TODAY, days=5)


def book(db, world, slot_id, patient_id, **kw):
    return factories.book(db, world, slot_id, patient_id, now=NOW, **kw)


def test_check_in_by_code_gives_queue_room_and_what_is_missing(db, world):
    patient = new_patient(db, world.account_id)  # no CCCD, no insurance number
    appt = book(db, world, slot_at(db, "nhi", TOMORROW, "08:00"), patient, visit_type="bhyt")
    with db.uow() as uow:
        result = checkin.check_in(uow, appt.code.lower(), channel="desk", now=AT_DESK)
    assert result.appointment.status == "checked_in" and not result.already_checked_in
    assert (result.queue_number, result.room) == (appt.queue_number, "Phòng Nhi")
    assert any("BHYT" in need for need in result.still_needed)
    assert any("CCCD" in need for need in result.still_needed)
    with db.uow() as uow:
        again = checkin.check_in(uow, appt.code, channel="desk", now=AT_DESK)
    assert again.already_checked_in and again.queue_number == appt.queue_number


def test_service_visit_reminds_the_fee(db, world):
    patient = new_patient(db, world.account_id, cccd="096090123456")
    appt = book(db, world, slot_at(db, "nhi", TOMORROW, "08:00"), patient, visit_type="dich_vu")
    with db.uow() as uow:
        result = checkin.check_in(uow, appt.code, channel="desk", now=AT_DESK)
    assert result.still_needed == ["Đóng phí khám dịch vụ: 150.000 đ tại quầy thu ngân"]


def test_check_in_refuses_another_day_a_cancelled_visit_and_an_unknown_code(db, world):
    appt = book(db, world, slot_at(db, "nhi", TOMORROW, "08:00"), new_patient(db, world.account_id))
    with db.uow() as uow, pytest.raises(DomainError) as info:
        checkin.check_in(uow, appt.code, channel="desk", now=NOW)  # today, visit is tomorrow
    assert info.value.code == "wrong_day" and "08/12/2026" in info.value.message_vi
    with db.uow() as uow:
        appointments.cancel(uow, appt.code, by="patient", channel="test", now=NOW)
    with db.uow() as uow, pytest.raises(DomainError) as info:
        checkin.check_in(uow, appt.code, channel="desk", now=AT_DESK)
    assert info.value.code == "not_checkin_able"
    with db.uow() as uow, pytest.raises(NotFound):
        checkin.check_in(uow, "ZZZZZZ", channel="desk", now=AT_DESK)


def test_check_in_by_phone_and_date(db, world):
    mother = new_patient(db, world.account_id, 1, phone="0912000111")
    appt = book(db, world, slot_at(db, "nhi", TOMORROW, "08:00"), mother)
    with db.uow() as uow:
        result = checkin.check_in_by_phone(uow, "84 912 000 111", channel="desk", now=AT_DESK)
    assert result.appointment.code == appt.code
    child = new_patient(db, world.account_id, 2, phone="0912000111", relation="child")
    second = book(db, world, slot_at(db, "mat", TOMORROW, "09:00"), child)
    with db.uow() as uow, pytest.raises(Conflict) as info:
        checkin.check_in_by_phone(uow, "0912000111", channel="desk", now=AT_DESK)
    assert {c["code"] for c in info.value.details["candidates"]} == {appt.code, second.code}
    with db.uow() as uow, pytest.raises(NotFound):
        checkin.check_in_by_phone(uow, "0912000111", channel="desk", day=TODAY, now=AT_DESK)


def test_kiosk_of_another_hospital_cannot_check_in(db, world):
    appt = book(db, world, slot_at(db, "nhi", TOMORROW, "08:00"), new_patient(db, world.account_id))
    with db.uow() as uow, pytest.raises(OtherHospital):
        checkin.check_in(uow, appt.code, channel="kiosk", hospital_id=999, now=AT_DESK)


def test_no_shows_are_marked_after_the_session_only(db, world):
    morning = book(db, world, slot_at(db, "nhi", TOMORROW, "08:00"), new_patient(db, world.account_id, 1))
    arrived = book(db, world, slot_at(db, "nhi", TOMORROW, "08:30"), new_patient(db, world.account_id, 2))
    afternoon = book(db, world, slot_at(db, "nhi", TOMORROW, "14:00"), new_patient(db, world.account_id, 3))
    with db.uow() as uow:
        checkin.check_in(uow, arrived.code, channel="desk", now=AT_DESK)
    before_end = dt.datetime(2026, 12, 8, 4, 15, tzinfo=dt.UTC)  # 11:15 local: morning ended 15 min ago
    after_grace = dt.datetime(2026, 12, 8, 4, 31, tzinfo=dt.UTC)  # 11:31 local
    with db.uow() as uow:
        assert checkin.mark_no_shows(uow, now=before_end, grace_minutes=30) == []
    with db.uow() as uow:
        assert checkin.mark_no_shows(uow, now=after_grace, grace_minutes=30) == [morning.code]
    with db.uow() as uow:
        assert checkin.mark_no_shows(uow, now=after_grace, grace_minutes=30) == [], "marking twice changes nothing"
        states = {c: appointments.get_appointment(uow, c).status for c in (morning.code, arrived.code, afternoon.code)}
    assert states == {morning.code: "no_show", arrived.code: "checked_in", afternoon.code: "booked"}


def test_complete_after_check_in(db, world):
    appt = book(db, world, slot_at(db, "nhi", TOMORROW, "08:00"), new_patient(db, world.account_id))
    with db.uow() as uow, pytest.raises(DomainError) as info:
        checkin.complete(uow, appt.code, channel="his")
    assert info.value.code == "not_checked_in"
    with db.uow() as uow:
        checkin.check_in(uow, appt.code, channel="desk", now=AT_DESK)
    with db.uow() as uow:
        assert checkin.complete(uow, appt.code, channel="his").status == "completed"
