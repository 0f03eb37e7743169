"""What the booking services return: plain, detached values every entry point can render."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row, Select, bindparam, select

from core.identifiers import mask_phone
from core.timeutil import to_local
from core.uow import UnitOfWork

from .models import (
    APPOINTMENTS,
    DEPARTMENTS,
    DOCTORS,
    HOSPITALS,
    PATIENTS,
    SLOTS,
    VISIT_TYPES,
    Patient,
)


class View(BaseModel):
    model_config = ConfigDict(frozen=True)

    @classmethod
    def of(cls, record: Any) -> Self:
        """The view of an ORM record: its attributes of the views' field names."""
        return cls.model_validate(record, from_attributes=True)


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


class DepartmentView(View):
    slug: str
    name: str
    location: str
    what_to_bring: str


class DoctorView(View):
    id: int
    full_name: str
    title: str
    department: str  # slug


class VisitTypeView(View):
    code: str
    name: str
    kind: str  # insurance or service
    price_vnd: int


_SLOT_COMPUTED = frozenset({"start", "end", "free"})  # SlotView's fields not read as they are from the row


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

    @staticmethod
    @cache  # built once: making a statement costs more CPU than running it
    def query() -> Select:
        """The columns of the view, one row per slot (Core over the tables: searches must stay cheap)."""
        return select(
            SLOTS.c.id,
            DEPARTMENTS.c.slug.label("department"),
            DEPARTMENTS.c.name.label("department_name"),
            DOCTORS.c.full_name.label("doctor"),
            SLOTS.c.day,
            SLOTS.c.part_of_day,
            SLOTS.c.start_at,
            SLOTS.c.end_at,
            (SLOTS.c.capacity - SLOTS.c.booked).label("free"),
            SLOTS.c.closed,
            SLOTS.c.room,
        ).select_from(
            SLOTS.join(DEPARTMENTS, DEPARTMENTS.c.id == SLOTS.c.department_id).outerjoin(
                DOCTORS, DOCTORS.c.id == SLOTS.c.doctor_id
            )
        )

    @classmethod
    def from_row(cls, row: Row) -> SlotView:
        data = {name: getattr(row, name) for name in cls.model_fields if name not in _SLOT_COMPUTED}
        return cls(**data, start=to_local(row.start_at), end=to_local(row.end_at), free=0 if row.closed else row.free)


class SlotOffer(View):
    """The slots offered to a patient, and whether the asked day or part of day had to be let go (it is full)."""

    slots: tuple[SlotView, ...]
    relaxed: bool


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
    confirmed_at: dt.datetime | None = None  # the patient confirmed they will come (local time)

    @staticmethod
    @cache  # built once: making a statement costs more CPU than running it
    def query(*, reception: bool = False) -> Select:
        """One row per appointment with what the view shows and what access checks use; ``reception`` adds
        what the desk checks at check-in (identity papers, visit kind and fee). Every column read costs CPU in
        the driver, so plain look-ups leave those out.

        Views are built from this single Core query over the tables rather than from ORM objects and their
        relationships: it is the one way to read an appointment for display, and it costs one indexed round
        trip. (Only ``book`` builds the view of the row it has just written from what it already holds.)
        """
        a = APPOINTMENTS
        return select(
            a.c.id,
            a.c.code,
            a.c.status,
            HOSPITALS.c.slug.label("hospital"),
            HOSPITALS.c.name.label("hospital_name"),
            DEPARTMENTS.c.slug.label("department"),
            DEPARTMENTS.c.name.label("department_name"),
            DEPARTMENTS.c.location,
            SLOTS.c.room,
            DOCTORS.c.full_name.label("doctor"),
            a.c.patient_id,
            PATIENTS.c.full_name.label("patient_name"),
            a.c.day,
            a.c.part_of_day,
            a.c.starts_at,
            a.c.queue_number,
            VISIT_TYPES.c.code.label("visit_type"),
            a.c.channel,
            DEPARTMENTS.c.what_to_bring,
            a.c.cancelled_by,
            a.c.cancel_reason,
            a.c.checked_in_at,
            a.c.confirmed_at,
            # Not shown; for access checks.
            a.c.hospital_id,
            PATIENTS.c.account_id,
            *(
                (
                    PATIENTS.c.cccd,
                    PATIENTS.c.insurance_number,
                    VISIT_TYPES.c.kind.label("visit_kind"),
                    VISIT_TYPES.c.name.label("visit_name"),
                    VISIT_TYPES.c.price_vnd,
                )
                if reception
                else ()
            ),
        ).select_from(
            a.join(HOSPITALS, HOSPITALS.c.id == a.c.hospital_id)
            .join(DEPARTMENTS, DEPARTMENTS.c.id == a.c.department_id)
            .join(SLOTS, SLOTS.c.id == a.c.slot_id)
            .join(PATIENTS, PATIENTS.c.id == a.c.patient_id)
            .outerjoin(DOCTORS, DOCTORS.c.id == a.c.doctor_id)
            .outerjoin(VISIT_TYPES, VISIT_TYPES.c.id == a.c.visit_type_id)
        )

    @classmethod
    def from_row(cls, row: Row) -> AppointmentView:
        local = ("start", "checked_in_at", "confirmed_at")
        data = {name: getattr(row, name) for name in cls.model_fields if name not in local}
        return cls(
            **data,
            start=to_local(row.starts_at),
            checked_in_at=to_local(row.checked_in_at) if row.checked_in_at else None,
            confirmed_at=to_local(row.confirmed_at) if row.confirmed_at else None,
        )


def load_appointment_view(uow: UnitOfWork, appointment_id: int) -> AppointmentView:
    """The view of an appointment as the database now holds it (pending ORM changes are flushed first)."""
    return AppointmentView.from_row(uow.session.execute(APPOINTMENT_BY_ID, {"id": appointment_id}).one())


class CheckInResult(View):
    appointment: AppointmentView
    already_checked_in: bool
    queue_number: int
    room: str
    location: str
    still_needed: list[str]  # what the patient must still show or do at the counter (Vietnamese)


# The hot look-ups as statements built once: SQLAlchemy then reuses their cache keys and compiled SQL.
APPOINTMENT_BY_ID = AppointmentView.query().where(APPOINTMENTS.c.id == bindparam("id"))
APPOINTMENT_BY_CODE = AppointmentView.query().where(APPOINTMENTS.c.code == bindparam("code"))
# The desk's look-up (check-in, completion): locked, with the reception columns.
APPOINTMENT_BY_CODE_LOCKED = (
    AppointmentView.query(reception=True)
    .where(APPOINTMENTS.c.code == bindparam("code"))
    .with_for_update(of=APPOINTMENTS)
)
