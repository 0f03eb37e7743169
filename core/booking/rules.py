"""The hospital's booking rules, each a check that raises RuleViolation with the code a client sees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.errors import RuleViolation
from core.timeutil import local_today

from .models import APPOINTMENTS, Appointment, AppointmentStatus

LIVE = (AppointmentStatus.BOOKED.value, AppointmentStatus.CHECKED_IN.value)

# The columns of a live appointment the rules read (the booking path selects them with the patient's lock).
LIVE_COLUMNS = tuple(
    APPOINTMENTS.c[name] for name in ("id", "code", "status", "starts_at", "department_id", "day", "part_of_day")
)
LIVEAPPOINTMENTS = select(*LIVE_COLUMNS).where(
    APPOINTMENTS.c.patient_id == bindparam("patient_id"), APPOINTMENTS.c.status.in_(LIVE)
)
# The hospital's columns the rules read: a Hospital, or any row that carries them under these names.
HOSPITAL_RULES = (
    "phone",
    "booking_horizon_days",
    "min_lead_minutes",
    "change_cutoff_minutes",
    "max_active_appointments",
    "one_appointment_per_session",
)


class HospitalRules(Protocol):
    phone: str
    booking_horizon_days: int
    min_lead_minutes: int
    change_cutoff_minutes: int
    max_active_appointments: int
    one_appointment_per_session: bool


class BookableSlot(Protocol):
    """What the rules read of a slot: a Slot, or a row with its columns."""

    department_id: int
    day: dt.date
    part_of_day: str
    start_at: dt.datetime
    closed: bool


def check_slot_bookable(hospital: HospitalRules, slot: BookableSlot, now: dt.datetime) -> None:
    """Closed, past, inside the minimum lead time, or beyond the booking horizon → refused."""
    if slot.closed:
        raise RuleViolation(
            "slot_unavailable",
            "this slot is closed (holiday or the doctor is away)",
            "Dạ, khung giờ này bệnh viện tạm nghỉ. Anh/chị chọn khung giờ khác giúp em ạ.",
        )
    if slot.start_at <= now:
        raise RuleViolation(
            "slot_in_past",
            "this slot has already started",
            "Dạ, khung giờ này đã qua. Anh/chị chọn khung giờ khác giúp em ạ.",
        )
    if slot.start_at < now + dt.timedelta(minutes=hospital.min_lead_minutes):
        raise RuleViolation(
            "too_late_to_book",
            f"bookings close {hospital.min_lead_minutes} minutes before the slot starts",
            f"Dạ, bệnh viện chỉ nhận đặt lịch trước giờ khám ít nhất {_duration_vi(hospital.min_lead_minutes)}. "
            "Anh/chị chọn khung giờ muộn hơn giúp em ạ.",
            min_lead_minutes=hospital.min_lead_minutes,
        )
    last_day = local_today(now) + dt.timedelta(days=hospital.booking_horizon_days)
    if slot.day > last_day:
        raise RuleViolation(
            "beyond_horizon",
            f"bookings open at most {hospital.booking_horizon_days} days ahead",
            f"Dạ, bệnh viện nhận đặt lịch trước tối đa {hospital.booking_horizon_days} ngày "
            f"(đến hết ngày {last_day:%d/%m/%Y}). Anh/chị chọn ngày gần hơn giúp em ạ.",
            booking_horizon_days=hospital.booking_horizon_days,
        )


def check_change_allowed(hospital: HospitalRules, appointment: Appointment, now: dt.datetime, action: str) -> None:
    """Patients may cancel or reschedule only until the hospital's cut-off before the visit."""
    cutoff = appointment.starts_at - dt.timedelta(minutes=hospital.change_cutoff_minutes)
    if now > cutoff:
        verb_vi = "hủy" if action == "cancel" else "đổi"
        raise RuleViolation(
            "change_cutoff_passed",
            f"appointments can be changed until {hospital.change_cutoff_minutes} minutes before the visit",
            f"Dạ, lịch khám chỉ {verb_vi} được trước giờ khám ít nhất "
            f"{_duration_vi(hospital.change_cutoff_minutes)}. Anh/chị vui lòng gọi {hospital.phone} "
            "để được hỗ trợ ạ.",
            change_cutoff_minutes=hospital.change_cutoff_minutes,
        )


class LiveAppointment(Protocol):
    """What the per-patient rules read of each of the patient's live appointments."""

    id: int
    code: str
    status: str
    starts_at: dt.datetime
    department_id: int
    day: dt.date
    part_of_day: str


def live_appointments(session: Session, patient_id: int) -> Sequence[LiveAppointment]:
    """The patient's booked and checked-in appointments, as ``check_patient_may_book`` reads them."""
    return session.execute(LIVEAPPOINTMENTS, {"patient_id": patient_id}).all()


def check_patient_may_book(
    hospital: HospitalRules,
    live: Iterable[LiveAppointment],
    slot: BookableSlot,
    now: dt.datetime,
    *,
    ignore_appointment_id: int | None = None,
) -> None:
    """Maximum upcoming appointments, and one appointment per department session.

    ``live`` are the patient's live appointments (read under the patient's row lock);
    ``ignore_appointment_id`` is the appointment being moved: a reschedule keeps the count unchanged.
    """
    live = [a for a in live if a.id != ignore_appointment_id]
    if hospital.one_appointment_per_session:
        for a in live:
            if (a.department_id, a.day, a.part_of_day) == (slot.department_id, slot.day, slot.part_of_day):
                raise RuleViolation(
                    "duplicate_in_session",
                    "the patient already has an appointment in this department session",
                    f"Dạ, người bệnh đã có lịch khám khoa này vào buổi đó (mã {a.code}). Anh/chị không cần đặt thêm ạ.",
                    existing_code=a.code,
                )
    if ignore_appointment_id is not None:
        return
    upcoming = sum(1 for a in live if a.status == AppointmentStatus.BOOKED and a.starts_at > now)
    if upcoming >= hospital.max_active_appointments:
        raise RuleViolation(
            "too_many_active",
            f"a patient may hold at most {hospital.max_active_appointments} upcoming appointments",
            f"Dạ, mỗi người bệnh được giữ tối đa {hospital.max_active_appointments} lịch hẹn chưa khám. "
            "Anh/chị hủy bớt một lịch cũ rồi đặt lại giúp em ạ.",
            max_active_appointments=hospital.max_active_appointments,
        )


def _duration_vi(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} ngày"
    if minutes % 60 == 0:
        return f"{minutes // 60} giờ"
    return f"{minutes} phút"
