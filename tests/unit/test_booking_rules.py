"""The hospital's booking rules (core/booking/rules.py) on plain values: no database, no session."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from core.booking.rules import check_change_allowed, check_patient_may_book, check_slot_bookable
from core.errors import RuleViolation
from core.timeutil import local_to_utc

MONDAY = dt.date(2026, 12, 7)
NOW = local_to_utc(MONDAY, dt.time(8, 0))  # Monday 08:00 in Vietnam


def hospital(**rules: object) -> SimpleNamespace:
    defaults = {
        "phone": "02900000000",
        "booking_horizon_days": 30,
        "min_lead_minutes": 60,
        "change_cutoff_minutes": 120,
        "max_active_appointments": 2,
        "one_appointment_per_session": True,
    }
    return SimpleNamespace(**(defaults | rules))


def slot(day: dt.date = MONDAY, hhmm: str = "10:00", *, closed: bool = False, department_id: int = 1):
    start = local_to_utc(day, dt.time.fromisoformat(hhmm))
    part = "morning" if start < local_to_utc(day, dt.time(12, 0)) else "afternoon"
    return SimpleNamespace(department_id=department_id, day=day, part_of_day=part, start_at=start, closed=closed)


def live(n: int, at: dt.datetime, *, status: str = "booked", department_id: int = 9, **kw: object):
    local = at.astimezone(local_to_utc(MONDAY, dt.time()).tzinfo)
    values = {
        "id": n,
        "code": f"CODE{n:02d}",
        "status": status,
        "starts_at": at,
        "department_id": department_id,
        "day": local.date(),
        "part_of_day": "morning",
    }
    return SimpleNamespace(**(values | kw))


def refusal(check, *args, **kwargs) -> RuleViolation:
    with pytest.raises(RuleViolation) as info:
        check(*args, **kwargs)
    assert info.value.message_vi.startswith("Dạ, ") and info.value.message_vi.endswith("ạ."), info.value.message_vi
    return info.value


@pytest.mark.parametrize(
    ("the_slot", "code"),
    [
        (slot(closed=True), "slot_unavailable"),
        (slot(hhmm="07:30"), "slot_in_past"),
        (slot(hhmm="08:30"), "too_late_to_book"),
        (slot(MONDAY + dt.timedelta(days=31)), "beyond_horizon"),
    ],
    ids=["closed", "past", "inside-lead-time", "beyond-horizon"],
)
def test_a_slot_that_cannot_be_booked_is_refused_with_its_rule(the_slot, code) -> None:
    assert refusal(check_slot_bookable, hospital(), the_slot, NOW).code == code


@pytest.mark.parametrize(
    "the_slot",
    [slot(hhmm="09:00"), slot(MONDAY + dt.timedelta(days=30), "16:00")],
    ids=["exactly-the-lead-time", "last-day-of-the-horizon"],
)
def test_the_edges_of_the_lead_time_and_the_horizon_are_bookable(the_slot) -> None:
    check_slot_bookable(hospital(), the_slot, NOW)


def test_the_lead_time_is_told_in_the_unit_a_patient_reads() -> None:
    assert "ít nhất 1 giờ" in refusal(check_slot_bookable, hospital(), slot(hhmm="08:30"), NOW).message_vi
    days = hospital(min_lead_minutes=2880)
    assert "ít nhất 2 ngày" in refusal(check_slot_bookable, days, slot(MONDAY + dt.timedelta(days=1)), NOW).message_vi
    minutes = hospital(min_lead_minutes=45)
    assert "ít nhất 45 phút" in refusal(check_slot_bookable, minutes, slot(hhmm="08:30"), NOW).message_vi


def test_changes_close_at_the_cutoff_and_the_refusal_gives_the_hospitals_phone() -> None:
    visit = SimpleNamespace(starts_at=NOW + dt.timedelta(minutes=120))
    check_change_allowed(hospital(), visit, NOW, "cancel")  # exactly at the cut-off: still allowed
    late = refusal(check_change_allowed, hospital(), visit, NOW + dt.timedelta(minutes=1), "cancel")
    assert late.code == "change_cutoff_passed"
    assert "hủy" in late.message_vi and "02900000000" in late.message_vi
    assert "đổi" in refusal(check_change_allowed, hospital(), visit, NOW + dt.timedelta(minutes=1), "move").message_vi


def test_one_appointment_per_department_session_names_the_existing_code() -> None:
    existing = live(1, local_to_utc(MONDAY, dt.time(9, 0)), department_id=1)
    found = refusal(check_patient_may_book, hospital(), [existing], slot(), NOW)
    assert found.code == "duplicate_in_session" and "CODE01" in found.message_vi
    check_patient_may_book(hospital(one_appointment_per_session=False), [existing], slot(), NOW)
    check_patient_may_book(hospital(), [existing], slot(department_id=2), NOW)  # another department


def test_the_cap_counts_upcoming_booked_appointments_only() -> None:
    later = NOW + dt.timedelta(days=3)
    held = [live(1, later), live(2, later + dt.timedelta(days=1))]
    assert refusal(check_patient_may_book, hospital(), held, slot(), NOW).code == "too_many_active"
    past_or_arrived = [live(1, NOW - dt.timedelta(hours=1)), live(2, later, status="checked_in")]
    check_patient_may_book(hospital(), past_or_arrived, slot(), NOW)


def test_a_reschedule_ignores_the_appointment_being_moved_and_the_cap() -> None:
    later = NOW + dt.timedelta(days=3)
    moving = live(1, local_to_utc(MONDAY, dt.time(9, 0)), department_id=1)
    held = [moving, live(2, later)]
    check_patient_may_book(hospital(max_active_appointments=1), held, slot(), NOW, ignore_appointment_id=1)
