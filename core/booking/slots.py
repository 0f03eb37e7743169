"""Slots: materialised from weekly schedules minus closures, searched for the nearest free ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Integer, Select, String, bindparam, insert, or_, select, update

from core.db import UTCDateTime
from core.errors import InvalidInput, NotFound
from core.timeutil import local_to_utc, local_today, utcnow
from core.uow import UnitOfWork

from .catalogue import find_department, find_hospital
from .models import (
    DEPARTMENTS,
    HOSPITALS,
    SLOTS,
    Appointment,
    AppointmentStatus,
    Closure,
    PartOfDay,
    Schedule,
    Slot,
)
from .views import SlotOffer, SlotView


def generate_slots(uow: UnitOfWork, *, start: dt.date | None = None, days: int = 60) -> int:
    """Create the missing slots of every active schedule from ``start`` for ``days`` days.

    Idempotent: existing slots are kept (with their bookings); returns how many were created.
    """
    start = start or local_today()
    end = start + dt.timedelta(days=days - 1)
    session = uow.session
    closures = session.scalars(select(Closure).where(Closure.start_date <= end, Closure.end_date >= start)).all()
    existing = {
        (schedule_id, start_at)
        for schedule_id, start_at in session.execute(
            select(Slot.schedule_id, Slot.start_at).where(Slot.day >= start, Slot.day <= end)
        )
    }
    new_rows: list[dict] = []
    for schedule in session.scalars(select(Schedule).where(Schedule.active.is_(True))):
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            if day.weekday() != schedule.weekday or _closed(closures, schedule, day):
                continue
            new_rows.extend(
                row for row in _session_slots(schedule, day) if (schedule.id, row["start_at"]) not in existing
            )
    if new_rows:
        session.execute(insert(Slot), new_rows)
    uow.commit()
    return len(new_rows)


def _closed(closures: list[Closure], schedule: Schedule, day: dt.date) -> bool:
    return any(
        c.hospital_id == schedule.hospital_id
        and c.start_date <= day <= c.end_date
        and (c.department_id is None or c.department_id == schedule.department_id)
        and (c.doctor_id is None or c.doctor_id == schedule.doctor_id)
        for c in closures
    )


def _session_slots(schedule: Schedule, day: dt.date) -> list[dict]:
    session_end = local_to_utc(day, schedule.end_time)
    rows = []
    cursor = local_to_utc(day, schedule.start_time)
    step = dt.timedelta(minutes=schedule.slot_minutes)
    index = 0
    while cursor + step <= session_end:
        rows.append(
            {
                "hospital_id": schedule.hospital_id,
                "department_id": schedule.department_id,
                "doctor_id": schedule.doctor_id,
                "schedule_id": schedule.id,
                "day": day,
                "part_of_day": schedule.part_of_day,
                "start_at": cursor,
                "end_at": cursor + step,
                "session_end_at": session_end,
                "capacity": schedule.capacity_per_slot,
                "booked": 0,
                "queue_base": index * schedule.capacity_per_slot + 1,
                "room": schedule.room,
            }
        )
        cursor += step
        index += 1
    return rows


def add_closure(
    uow: UnitOfWork,
    *,
    hospital_slug: str,
    start: dt.date,
    end: dt.date,
    reason: str,
    department_slug: str | None = None,
    doctor_id: int | None = None,
) -> list[str]:
    """Close days (holiday, department closed, doctor away); returns the codes of live bookings hit.

    Slots in the range stop being offered at once. Bookings already made are left for staff to move or
    cancel (by hospital, with a reason) so that no patient loses a visit silently.
    """
    if end < start:
        raise InvalidInput("closure ends before it starts", "Dạ, ngày kết thúc phải sau ngày bắt đầu ạ.")
    hospital = find_hospital(uow, hospital_slug)
    department_id = find_department(uow, hospital, department_slug).id if department_slug else None
    uow.session.add(
        Closure(
            hospital_id=hospital.id,
            department_id=department_id,
            doctor_id=doctor_id,
            start_date=start,
            end_date=end,
            reason=reason,
        )
    )
    conditions = [Slot.hospital_id == hospital.id, Slot.day >= start, Slot.day <= end]
    if department_id is not None:
        conditions.append(Slot.department_id == department_id)
    if doctor_id is not None:
        conditions.append(Slot.doctor_id == doctor_id)
    uow.session.execute(update(Slot).where(*conditions).values(closed=True))
    hit = uow.session.scalars(
        select(Appointment.code)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(*conditions, Appointment.status == AppointmentStatus.BOOKED.value)
        .order_by(Appointment.starts_at)
    ).all()
    uow.commit()
    return list(hit)


def search_slots(
    uow: UnitOfWork,
    *,
    hospital_slug: str,
    department_slug: str,
    doctor_id: int | None = None,
    day: dt.date | None = None,
    part_of_day: str | None = None,
    limit: int = 5,
    now: dt.datetime | None = None,
) -> list[SlotView]:
    """The nearest slots a patient may book now, earliest first (what the bot offers as buttons)."""
    if part_of_day is not None and part_of_day not in {p.value for p in PartOfDay}:
        raise InvalidInput(
            "part_of_day must be morning, afternoon or evening",
            "Dạ, anh/chị chọn buổi sáng, chiều hoặc tối giúp em ạ.",
            field="part_of_day",
        )
    now = now or utcnow()
    place = uow.session.execute(_PLACE, {"hospital": hospital_slug, "department": department_slug}).first()
    if place is None:  # say which of the two is unknown
        find_department(uow, find_hospital(uow, hospital_slug), department_slug)
    department_id, min_lead_minutes, horizon_days = place
    # Every filter is a range of start_at, so the (department_id, start_at) index reads only what is needed.
    earliest = now + dt.timedelta(minutes=min_lead_minutes)
    latest = local_to_utc(local_today(now) + dt.timedelta(days=horizon_days + 1), dt.time(0, 0))
    if day is not None:
        earliest = max(earliest, local_to_utc(day, dt.time(0, 0)))
        latest = min(latest, local_to_utc(day + dt.timedelta(days=1), dt.time(0, 0)))
    params = {
        "department_id": department_id,
        "earliest": earliest,
        "latest": latest,
        "doctor_id": doctor_id,
        "part_of_day": part_of_day,
        "limit": max(1, min(limit, 50)),
    }
    return [SlotView.from_row(row) for row in uow.session.execute(_FREE_SLOTS, params)]


SEARCH_LIMIT = 50  # the most slots a search returns (and what ranking by a wanted time looks through)


def offer_slots(
    uow: UnitOfWork,
    *,
    hospital_slug: str,
    department_slug: str,
    day: dt.date | None = None,
    part_of_day: str | None = None,
    wanted: dt.time | None = None,
    limit: int = 4,
    now: dt.datetime | None = None,
) -> SlotOffer:
    """The slots to offer a patient: those of the asked day and part of day (the nearest to the asked time
    when there is one), else, when that day or part of day is full, the nearest from now with ``relaxed``
    set (the patient is told the asked day is full)."""
    where = {"hospital_slug": hospital_slug, "department_slug": department_slug, "now": now}
    fetch = SEARCH_LIMIT if wanted else limit
    found = search_slots(uow, **where, day=day, part_of_day=part_of_day, limit=fetch)
    relaxed = False
    if not found and (day or part_of_day):
        relaxed = True
        found = search_slots(uow, **where, limit=fetch)
    chosen = nearest_to(found, wanted, limit) if wanted else found[:limit]
    return SlotOffer(slots=tuple(chosen), relaxed=relaxed)


def nearest_to(found: Iterable[SlotView], wanted: dt.time, limit: int) -> list[SlotView]:
    """Of the earliest day among ``found``, the ``limit`` slots starting nearest ``wanted``, in time order.
    Pure (no database); slots equally near keep their order in ``found`` (searches give time order)."""
    minutes = wanted.hour * 60 + wanted.minute
    ranked = sorted(found, key=lambda s: (s.day, abs(s.start.hour * 60 + s.start.minute - minutes)))
    first_day = [s for s in ranked if s.day == ranked[0].day] if ranked else []
    return sorted(first_day[:limit], key=lambda s: s.start)


def _free_slots_statement() -> Select:
    """The search as one statement built once; absent filters are NULL parameters."""
    doctor = bindparam("doctor_id", type_=Integer)
    part = bindparam("part_of_day", type_=String)
    return (
        SlotView.query()
        .where(
            SLOTS.c.department_id == bindparam("department_id"),
            SLOTS.c.start_at >= bindparam("earliest", type_=UTCDateTime()),
            SLOTS.c.start_at < bindparam("latest", type_=UTCDateTime()),
            SLOTS.c.closed.is_(False),
            SLOTS.c.booked < SLOTS.c.capacity,
            or_(doctor.is_(None), SLOTS.c.doctor_id == doctor),
            or_(part.is_(None), SLOTS.c.part_of_day == part),
        )
        .order_by(SLOTS.c.start_at, SLOTS.c.id)
        .limit(bindparam("limit", type_=Integer))
    )


_PLACE = (
    select(DEPARTMENTS.c.id, HOSPITALS.c.min_lead_minutes, HOSPITALS.c.booking_horizon_days)
    .select_from(DEPARTMENTS.join(HOSPITALS, HOSPITALS.c.id == DEPARTMENTS.c.hospital_id))
    .where(HOSPITALS.c.slug == bindparam("hospital"), DEPARTMENTS.c.slug == bindparam("department"))
)
_FREE_SLOTS = _free_slots_statement()


def get_slot(uow: UnitOfWork, slot_id: int) -> SlotView:
    """One slot as the patient sees it (free seats now); NotFound when there is no such slot."""
    row = uow.session.execute(SlotView.query().where(SLOTS.c.id == slot_id)).first()
    if row is None:
        raise NotFound(
            f"no slot {slot_id}", "Dạ, khung giờ này không còn. Anh/chị chọn giờ khác giúp em ạ.", slot_id=slot_id
        )
    return SlotView.from_row(row)
