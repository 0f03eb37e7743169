"""Persistent booking model: SQLAlchemy 2 typed mappings, no web or chat concepts."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.timeutil import utcnow

from .vocabulary import AppointmentStatus, CancelledBy, PartOfDay, Relationship, Sex, VisitKind


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Hospital(Base):
    __tablename__ = "hospitals"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    facility_code: Mapped[str] = mapped_column(String(5), unique=True)
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(20))
    emergency_phone: Mapped[str] = mapped_column(String(20))
    opening_hours: Mapped[str] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(default=False)
    # Booking rules, per hospital.
    booking_horizon_days: Mapped[int] = mapped_column(default=30)
    min_lead_minutes: Mapped[int] = mapped_column(default=60)
    change_cutoff_minutes: Mapped[int] = mapped_column(default=120)
    max_active_appointments: Mapped[int] = mapped_column(default=3)
    one_appointment_per_session: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    departments: Mapped[list[Department]] = relationship(back_populates="hospital", order_by="Department.id")


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("hospital_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    slug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    location: Mapped[str] = mapped_column(String(200), default="")
    what_to_bring: Mapped[str] = mapped_column(Text, default="")
    # The codes the hospital's HIS writes for this department in its XML 130 exports (MA_KHOA, e.g. "K18"),
    # ";"-joined: an imported re-exam slip is booked back into the department its visit was in.
    his_codes: Mapped[str] = mapped_column(String(200), default="", server_default="")

    hospital: Mapped[Hospital] = relationship(back_populates="departments")


class Doctor(Base):
    __tablename__ = "doctors"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)


class HospitalService(Base):
    """A service the hospital does, by the name patients may use, and the department that does it: from the
    hospital's own service catalogue (source "catalogue") or the XML3 service names of its imported visits
    ("his"). The booking form books "siêu âm thai" into the department this hospital does it in."""

    __tablename__ = "hospital_services"
    __table_args__ = (
        UniqueConstraint("hospital_id", "folded_name"),
        CheckConstraint("source IN ('catalogue', 'his')", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))  # as the hospital writes it
    folded_name: Mapped[str] = mapped_column(String(300))  # lower case, no diacritics, single spaces
    source: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class VisitType(Base):
    __tablename__ = "visit_types"
    __table_args__ = (
        UniqueConstraint("hospital_id", "code"),
        CheckConstraint(_in("kind", VisitKind), name="kind"),
        CheckConstraint("price_vnd >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    price_vnd: Mapped[int] = mapped_column(Integer, default=0)


class Schedule(Base):
    """A weekly clinic session of a department (optionally of one doctor)."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint(_in("part_of_day", PartOfDay), name="part_of_day"),
        CheckConstraint("slot_minutes > 0 AND capacity_per_slot > 0", name="positive_sizes"),
        CheckConstraint("start_time < end_time", name="time_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    weekday: Mapped[int] = mapped_column()  # 0 = Monday (thứ Hai) … 6 = Sunday (Chủ nhật)
    part_of_day: Mapped[str] = mapped_column(String(10))
    start_time: Mapped[dt.time] = mapped_column()
    end_time: Mapped[dt.time] = mapped_column()
    slot_minutes: Mapped[int] = mapped_column()
    capacity_per_slot: Mapped[int] = mapped_column()
    room: Mapped[str] = mapped_column(String(80), default="")
    active: Mapped[bool] = mapped_column(default=True)


class Closure(Base):
    """Days with no clinic: a hospital holiday, a department closed, a doctor away."""

    __tablename__ = "closures"
    __table_args__ = (CheckConstraint("start_date <= end_date", name="date_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    start_date: Mapped[dt.date] = mapped_column()
    end_date: Mapped[dt.date] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200))


class Slot(Base):
    """A bookable time with a capacity, materialised from a schedule for a rolling horizon."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("schedule_id", "start_at"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="capacity"),
        Index("ix_slots_department_start", "department_id", "start_at"),
        # Slot search reads only slots that can still be booked, in time order, however full the near days are.
        Index(
            "ix_slots_free_by_department",
            "department_id",
            "start_at",
            "id",
            postgresql_where=text("closed IS false AND booked < capacity"),
            sqlite_where=text("closed IS 0 AND booked < capacity"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id"))
    day: Mapped[dt.date] = mapped_column()  # local (Asia/Ho_Chi_Minh) date of the session
    part_of_day: Mapped[str] = mapped_column(String(10))
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    session_end_at: Mapped[dt.datetime] = mapped_column()
    capacity: Mapped[int] = mapped_column()
    booked: Mapped[int] = mapped_column(default=0)
    # Queue numbers of this slot are queue_base .. queue_base + capacity - 1, so numbers follow time order.
    queue_base: Mapped[int] = mapped_column()
    room: Mapped[str] = mapped_column(String(80), default="")
    closed: Mapped[bool] = mapped_column(default=False)


class Account(Base):
    """Who manages patient profiles: a Zalo user, or an end user of an API client."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("provider", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(80))
    external_id: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(_in("sex", Sex), name="sex"),
        CheckConstraint(_in("relation", Relationship), name="relation"),
        # How the master patient index (core/emr/profiles.py) finds the profiles of a person: by CCCD, by the
        # card (a 10-digit social-insurance number or a CCCD as written), and by the social-insurance number
        # inside a 15-character card (characters 6 to 15).
        Index("ix_patients_cccd", "cccd"),
        Index("ix_patients_insurance_number", "insurance_number"),
        Index("ix_patients_insurance_sin", func.substr(text("insurance_number"), 6, 10)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20), default=Relationship.SELF.value)
    full_name: Mapped[str] = mapped_column(String(120))
    date_of_birth: Mapped[dt.date] = mapped_column()
    sex: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164, e.g. +84912345678
    cccd: Mapped[str | None] = mapped_column(String(12))
    insurance_number: Mapped[str | None] = mapped_column(String(15))
    address: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(_in("status", AppointmentStatus), name="status"),
        CheckConstraint(f"cancelled_by IS NULL OR {_in('cancelled_by', CancelledBy)}", name="cancelled_by"),
        Index("ix_appointments_patient_status", "patient_id", "status"),
        Index("ix_appointments_status_session_end", "status", "session_end_at"),
        Index("ix_appointments_created_at", "created_at"),  # the figures' daily roll-up: bookings made per day
        # A queue number is held by at most one live appointment of a slot.
        Index(
            "uq_appointments_slot_queue_live",
            "slot_id",
            "queue_number",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
            sqlite_where=text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    visit_type_id: Mapped[int | None] = mapped_column(ForeignKey("visit_types.id"))
    status: Mapped[str] = mapped_column(String(12), default=AppointmentStatus.BOOKED.value)
    # Copied from the slot (and moved with it on reschedule) for the lookups that must be fast.
    day: Mapped[dt.date] = mapped_column(index=True)
    part_of_day: Mapped[str] = mapped_column(String(10))
    starts_at: Mapped[dt.datetime] = mapped_column()
    session_end_at: Mapped[dt.datetime] = mapped_column()
    queue_number: Mapped[int] = mapped_column()
    channel: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column()
    confirmed_at: Mapped[dt.datetime | None] = mapped_column()  # the patient confirmed they will come
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()
    cancelled_by: Mapped[str | None] = mapped_column(String(10))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))


class AppointmentEvent(Base):
    """What happened to an appointment and through which channel: the audit trail staff can read."""

    __tablename__ = "appointment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# The tables of the mapped classes. Statements on hot paths (booking, look-ups, check-in, search) are written
# over the tables, not the classes: an ORM-enabled statement costs several times the CPU of the Core one,
# and those paths need no ORM objects.
ACCOUNTS = Account.__table__
APPOINTMENTS = Appointment.__table__
APPOINTMENT_EVENTS = AppointmentEvent.__table__
DEPARTMENTS = Department.__table__
DOCTORS = Doctor.__table__
HOSPITALS = Hospital.__table__
PATIENTS = Patient.__table__
SLOTS = Slot.__table__
VISIT_TYPES = VisitType.__table__
