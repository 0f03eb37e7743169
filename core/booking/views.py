"""What the booking services return: plain, detached values every entry point can render."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from core.identifiers import mask_phone
from core.timeutil import to_local

from .models import Appointment, Department, Hospital, Patient, Slot


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class HospitalView(View):
    slug: str
    name: str
    facility_code: str
    address: str
    phone: str
    emergency_phone: str
    opening_hours: str
    is_demo: bool
    booking_horizon_days: int
    min_lead_minutes: int
    change_cutoff_minutes: int
    max_active_appointments: int
    one_appointment_per_session: bool

    @classmethod
    def of(cls, h: Hospital) -> HospitalView:
        return cls.model_validate(h, from_attributes=True)


class DepartmentView(View):
    slug: str
    name: str
    location: str
    what_to_bring: str

    @classmethod
    def of(cls, d: Department) -> DepartmentView:
        return cls.model_validate(d, from_attributes=True)


class SlotView(View):
    id: int
    department: str
    department_name: str
    doctor: str | None
    day: dt.date
    part_of_day: str
    start: dt.datetime  # local time, Asia/Ho_Chi_Minh
    end: dt.datetime
    free: int
    room: str

    @classmethod
    def of(cls, s: Slot) -> SlotView:
        return cls(
            id=s.id,
            department=s.department.slug,
            department_name=s.department.name,
            doctor=s.doctor.full_name if s.doctor else None,
            day=s.day,
            part_of_day=s.part_of_day,
            start=to_local(s.start_at),
            end=to_local(s.end_at),
            free=s.free,
            room=s.room,
        )


class PatientView(View):
    id: int
    relation: str
    full_name: str
    date_of_birth: dt.date
    sex: str
    phone_masked: str
    has_cccd: bool
    has_insurance_number: bool

    @classmethod
    def of(cls, p: Patient) -> PatientView:
        return cls(
            id=p.id,
            relation=p.relation,
            full_name=p.full_name,
            date_of_birth=p.date_of_birth,
            sex=p.sex,
            phone_masked=mask_phone(p.phone),
            has_cccd=bool(p.cccd),
            has_insurance_number=bool(p.insurance_number),
        )


class AppointmentView(View):
    code: str
    status: str
    hospital: str
    hospital_name: str
    department: str
    department_name: str
    location: str
    room: str
    doctor: str | None
    patient_id: int
    patient_name: str
    day: dt.date
    part_of_day: str
    start: dt.datetime  # local time
    queue_number: int
    visit_type: str | None
    channel: str
    what_to_bring: str
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    checked_in_at: dt.datetime | None = None

    @classmethod
    def of(cls, a: Appointment) -> AppointmentView:
        return cls(
            code=a.code,
            status=a.status,
            hospital=a.hospital.slug,
            hospital_name=a.hospital.name,
            department=a.department.slug,
            department_name=a.department.name,
            location=a.department.location,
            room=a.slot.room,
            doctor=a.doctor.full_name if a.doctor else None,
            patient_id=a.patient_id,
            patient_name=a.patient.full_name,
            day=a.day,
            part_of_day=a.part_of_day,
            start=to_local(a.starts_at),
            queue_number=a.queue_number,
            visit_type=a.visit_type.code if a.visit_type else None,
            channel=a.channel,
            what_to_bring=a.department.what_to_bring,
            cancelled_by=a.cancelled_by,
            cancel_reason=a.cancel_reason,
            checked_in_at=to_local(a.checked_in_at) if a.checked_in_at else None,
        )


class CheckInResult(View):
    appointment: AppointmentView
    already_checked_in: bool
    queue_number: int
    room: str
    location: str
    still_needed: list[str]  # what the patient must still show or do at the counter (Vietnamese)
