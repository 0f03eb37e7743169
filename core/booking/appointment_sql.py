"""The SQL of the booking services (core/booking/appointments.py), as statements built once: building a
statement costs more CPU than running it, and SQLAlchemy then reuses their cache keys and compiled SQL. The
decisions (who may book what, when) stay in appointments.py and rules.py; this module only says what is read
and written, over the tables (see models.APPOINTMENTS).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, bindparam, case, exists, func, insert, or_, select, update

from core.db import UTCDateTime, insert_ignoring_conflicts

from . import rules
from .models import (
    APPOINTMENT_EVENTS,
    APPOINTMENTS,
    DEPARTMENTS,
    DOCTORS,
    HOSPITALS,
    PATIENTS,
    SLOTS,
    VISIT_TYPES,
    Appointment,
    AppointmentStatus,
    Slot,
)
from .views import AppointmentView

# Statements of the booking path, built once (building a statement costs more CPU than running it), over
# the tables (see models.APPOINTMENTS).
EARLIER = APPOINTMENTS.alias("earlier")
LOCK_PATIENT = (
    select(PATIENTS.c.account_id, PATIENTS.c.full_name)
    .where(PATIENTS.c.id == bindparam("patient_id"))
    .with_for_update()  # the patient first: the lock order of every changing service
)
PATIENT_STATE = (
    select(
        select(EARLIER.c.id)
        .where(EARLIER.c.idempotency_key == bindparam("key"))
        .scalar_subquery()
        .label("previous_id"),
        *rules.LIVE_COLUMNS,
    )
    .select_from(
        PATIENTS.outerjoin(
            APPOINTMENTS,
            and_(APPOINTMENTS.c.patient_id == PATIENTS.c.id, APPOINTMENTS.c.status.in_(rules.LIVE)),
        )
    )
    .where(PATIENTS.c.id == bindparam("patient_id"))
)
# One flat row: the slot's columns, the hospital's rules under their own names (rules.BookableSlot and
# rules.HospitalRules), and what the view shows.
SLOT_FACTS = (
    select(
        *SLOTS.c,
        *(HOSPITALS.c[name] for name in rules.HOSPITAL_RULES),
        HOSPITALS.c.slug.label("hospital"),
        HOSPITALS.c.name.label("hospital_name"),
        DEPARTMENTS.c.slug.label("department"),
        DEPARTMENTS.c.name.label("department_name"),
        DEPARTMENTS.c.location,
        DEPARTMENTS.c.what_to_bring,
        DOCTORS.c.full_name.label("doctor"),
        VISIT_TYPES.c.id.label("visit_type_id"),
    )
    .select_from(
        SLOTS.join(HOSPITALS, HOSPITALS.c.id == SLOTS.c.hospital_id)
        .join(DEPARTMENTS, DEPARTMENTS.c.id == SLOTS.c.department_id)
        .outerjoin(DOCTORS, DOCTORS.c.id == SLOTS.c.doctor_id)
        .outerjoin(
            VISIT_TYPES,
            and_(VISIT_TYPES.c.hospital_id == SLOTS.c.hospital_id, VISIT_TYPES.c.code == bindparam("visit_type")),
        )
    )
    .where(SLOTS.c.id == bindparam("id"))
)
# The locks of the changing services (ORM statements: the session flushes before them, as it did inline).
LOCK_APPOINTMENT = select(Appointment.id).where(Appointment.id == bindparam("id")).with_for_update()
LOCK_SLOTS = (  # in id order: deadlock-free against concurrent moves the other way
    select(Slot.id).where(Slot.id.in_(bindparam("ids", expanding=True))).order_by(Slot.id).with_for_update()
)
TAKE_SEAT = (
    update(SLOTS)
    .where(SLOTS.c.id == bindparam("slot_id"), SLOTS.c.booked < SLOTS.c.capacity, SLOTS.c.closed.is_(False))
    .values(booked=SLOTS.c.booked + 1)
)
RELEASE_SEAT = update(SLOTS).where(SLOTS.c.id == bindparam("slot_id")).values(booked=SLOTS.c.booked - 1)


def lowest_free_number() -> ColumnElement[int]:
    """The lowest queue number of slot ``:number_slot`` no live appointment holds (``:moving`` is the appointment
    being moved, which holds none there): the slot's base number if free, else the first gap after a held one.

    Evaluated inside the INSERT or UPDATE that takes the number, after the seat (and so the slot row) is
    locked; the partial unique index on (slot_id, queue_number) guards it besides.
    """
    held, next_ = APPOINTMENTS.alias("held"), APPOINTMENTS.alias("next_held")

    def live_in_slot(a: Any) -> ColumnElement[bool]:
        return and_(
            a.c.slot_id == bindparam("number_slot"),  # not "slot_id": that name is the column's own
            a.c.status != AppointmentStatus.CANCELLED.value,
            a.c.id != bindparam("moving"),
        )

    base = select(SLOTS.c.queue_base).where(SLOTS.c.id == bindparam("number_slot")).scalar_subquery()
    first_gap = (
        select(func.min(held.c.queue_number) + 1)
        .where(
            live_in_slot(held),
            ~exists().where(live_in_slot(next_), next_.c.queue_number == held.c.queue_number + 1),
        )
        .scalar_subquery()
    )
    return case((~exists().where(live_in_slot(held), held.c.queue_number == base), base), else_=first_gap)


def insert_new(dialect_name: str) -> Any:
    """INSERT of a new appointment (its other columns come from the parameters) taking the lowest free
    number; a taken code inserts nothing and returns no row."""
    return (
        insert_ignoring_conflicts(dialect_name, APPOINTMENTS, ["code"])
        .values(queue_number=lowest_free_number())
        .returning(APPOINTMENTS.c.id, APPOINTMENTS.c.queue_number)
    )


INSERT_NEW = {name: insert_new(name) for name in ("postgresql", "sqlite")}
MOVE_TO_SLOT = (
    update(APPOINTMENTS)
    .where(APPOINTMENTS.c.id == bindparam("moving"))
    .values(queue_number=lowest_free_number())  # the other columns come from the parameters
)
ADD_EVENT = insert(APPOINTMENT_EVENTS)
# The upcoming booked appointments of every profile of an account (the chat's "my appointments"), soonest first;
# ``hospital_id`` NULL: any hospital.
_CONFINED = bindparam("hospital_id", type_=Integer)
ACCOUNT_UPCOMING = (
    AppointmentView.query()
    .where(
        PATIENTS.c.account_id == bindparam("account_id"),
        APPOINTMENTS.c.status == AppointmentStatus.BOOKED.value,
        APPOINTMENTS.c.starts_at > bindparam("now", type_=UTCDateTime()),
        or_(_CONFINED.is_(None), APPOINTMENTS.c.hospital_id == _CONFINED),
    )
    .order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.patient_id, APPOINTMENTS.c.id)
)
