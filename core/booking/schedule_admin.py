"""A hospital admin's weekly sessions: list, create, edit and deactivate them, with their future slots kept in step.

A session (``Schedule``) is what slots are materialised from. Editing one must not lose a booking: the future
slots of the session that nobody holds are rebuilt from the new shape (updated in place, deleted, or closed when a
cancelled appointment still points at them), and a slot with a live booking is left exactly as it is — the admin
closes those days with a closure (core/booking/closures.py), which cancels by the hospital and tells each patient.
Every look-up is confined to the hospital the caller names, so an id of another hospital's session is not found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, insert, select

from core.errors import InvalidInput, NotFound
from core.timeutil import local_today, utcnow
from core.uow import UnitOfWork

from .models import Appointment, Closure, Department, Doctor, Schedule, Slot
from .slots import _closed, _session_slots
from .vocabulary import PartOfDay

MAX_CAPACITY = 200
SLOT_MINUTES = range(5, 241)  # a slot of 5 minutes to 4 hours
SLOT_HORIZON_DAYS = 60  # how far ahead a session's slots are rebuilt (the scheduler keeps the rest)


@dataclass(frozen=True)
class SessionView:
    """A weekly session as the schedules page lists it."""

    id: int
    department_id: int
    department_name: str
    doctor_id: int | None
    doctor_name: str | None
    weekday: int  # 0 = Monday
    part_of_day: str
    start_time: dt.time
    end_time: dt.time
    slot_minutes: int
    capacity_per_slot: int
    room: str
    active: bool

    @property
    def slots_per_session(self) -> int:
        minutes = _minutes(self.end_time) - _minutes(self.start_time)
        return minutes // self.slot_minutes


@dataclass(frozen=True)
class SessionInput:
    """What the edit form sends (already parsed into types; ``validate`` checks the rest)."""

    department_id: int
    weekday: int
    part_of_day: str
    start_time: dt.time
    end_time: dt.time
    slot_minutes: int
    capacity_per_slot: int
    doctor_id: int | None = None
    room: str = ""


@dataclass(frozen=True)
class SlotChanges:
    """What rebuilding a session's future slots did: created, updated, removed, and left (held by a booking)."""

    created: int = 0
    updated: int = 0
    removed: int = 0
    kept_booked: int = 0


def list_sessions(uow: UnitOfWork, hospital_id: int) -> list[SessionView]:
    """The hospital's sessions by department, weekday and start time (inactive ones too, marked)."""
    rows = uow.session.execute(
        select(Schedule, Department.name, Doctor.full_name)
        .join(Department, Department.id == Schedule.department_id)
        .outerjoin(Doctor, Doctor.id == Schedule.doctor_id)
        .where(Schedule.hospital_id == hospital_id)
        .order_by(Department.name, Schedule.weekday, Schedule.start_time, Schedule.id)
    ).all()
    return [_view(schedule, department, doctor) for schedule, department, doctor in rows]


def get_session(uow: UnitOfWork, hospital_id: int, schedule_id: int) -> SessionView:
    schedule = _own(uow, hospital_id, schedule_id)
    department = uow.session.get(Department, schedule.department_id)
    doctor = uow.session.get(Doctor, schedule.doctor_id) if schedule.doctor_id else None
    return _view(schedule, department.name, doctor.full_name if doctor else None)


def validate(uow: UnitOfWork, hospital_id: int, data: SessionInput) -> None:
    """Refuse a session that cannot be booked sensibly, with the reason in Vietnamese for the admin."""
    if not 0 <= data.weekday <= 6:
        raise _invalid("weekday", "Thứ trong tuần không hợp lệ.")
    if data.part_of_day not in {p.value for p in PartOfDay}:
        raise _invalid("part_of_day", "Buổi khám phải là sáng, chiều hoặc tối.")
    if data.start_time >= data.end_time:
        raise _invalid("end_time", "Giờ kết thúc phải sau giờ bắt đầu.")
    if data.slot_minutes not in SLOT_MINUTES:
        raise _invalid("slot_minutes", "Thời lượng mỗi lượt khám phải từ 5 đến 240 phút.")
    length = _minutes(data.end_time) - _minutes(data.start_time)
    if data.slot_minutes > length or length % data.slot_minutes:
        raise _invalid(
            "slot_minutes",
            f"Thời lượng mỗi lượt ({data.slot_minutes} phút) phải chia hết thời gian buổi khám ({length} phút).",
        )
    if not 1 <= data.capacity_per_slot <= MAX_CAPACITY:
        raise _invalid("capacity_per_slot", f"Số người mỗi lượt phải từ 1 đến {MAX_CAPACITY}.")
    if len(data.room) > 80:
        raise _invalid("room", "Tên phòng tối đa 80 ký tự.")
    department = uow.session.get(Department, data.department_id)
    if department is None or department.hospital_id != hospital_id:
        raise _invalid("department_id", "Khoa không thuộc bệnh viện này.")
    if data.doctor_id is not None:
        doctor = uow.session.get(Doctor, data.doctor_id)
        if doctor is None or doctor.hospital_id != hospital_id or doctor.department_id != data.department_id:
            raise _invalid("doctor_id", "Bác sĩ không thuộc khoa đã chọn.")


def create_session(
    uow: UnitOfWork, hospital_id: int, data: SessionInput, *, now: dt.datetime | None = None
) -> tuple[SessionView, SlotChanges]:
    """Add a weekly session and its slots for the coming weeks."""
    validate(uow, hospital_id, data)
    schedule = Schedule(hospital_id=hospital_id, active=True, **_fields(data))
    uow.session.add(schedule)
    return _saved(uow, hospital_id, schedule, now)


def update_session(
    uow: UnitOfWork, hospital_id: int, schedule_id: int, data: SessionInput, *, now: dt.datetime | None = None
) -> tuple[SessionView, SlotChanges]:
    """Change a session (times, capacity, slot length, room, doctor); its free future slots follow."""
    schedule = _own(uow, hospital_id, schedule_id, lock=True)
    validate(uow, hospital_id, data)
    for name, value in _fields(data).items():
        setattr(schedule, name, value)
    schedule.active = True
    return _saved(uow, hospital_id, schedule, now)


def _saved(
    uow: UnitOfWork, hospital_id: int, schedule: Schedule, now: dt.datetime | None
) -> tuple[SessionView, SlotChanges]:
    """Store a created or changed session, rebuild its free future slots, and commit."""
    uow.session.flush()
    changes = _rebuild(uow, schedule, now or utcnow())
    view = get_session(uow, hospital_id, schedule.id)
    uow.commit()
    return view, changes


def deactivate_session(
    uow: UnitOfWork, hospital_id: int, schedule_id: int, *, now: dt.datetime | None = None
) -> tuple[SessionView, SlotChanges]:
    """Stop a session: its free future slots go; slots with a live booking stay (close those days instead)."""
    schedule = _own(uow, hospital_id, schedule_id, lock=True)
    schedule.active = False
    uow.session.flush()
    changes = _rebuild(uow, schedule, now or utcnow())
    view = get_session(uow, hospital_id, schedule.id)
    uow.commit()
    return view, changes


def _rebuild(uow: UnitOfWork, schedule: Schedule, now: dt.datetime) -> SlotChanges:
    """Bring the session's future slots in line with it, never touching a slot someone holds."""
    session = uow.session
    today = local_today(now)
    end = today + dt.timedelta(days=SLOT_HORIZON_DAYS - 1)
    wanted: dict[dt.datetime, dict] = {}
    if schedule.active:
        closures = session.scalars(
            select(Closure).where(
                Closure.hospital_id == schedule.hospital_id, Closure.start_date <= end, Closure.end_date >= today
            )
        ).all()
        for offset in range(SLOT_HORIZON_DAYS):
            day = today + dt.timedelta(days=offset)
            if day.weekday() != schedule.weekday or _closed(list(closures), schedule, day):
                continue
            for row in _session_slots(schedule, day):
                if row["start_at"] > now:
                    wanted[row["start_at"]] = row
    existing = session.scalars(
        select(Slot).where(Slot.schedule_id == schedule.id, Slot.start_at > now).with_for_update()
    ).all()
    created = updated = removed = kept = 0
    for slot in existing:
        row = wanted.pop(slot.start_at, None)
        if slot.booked > 0:
            kept += 1
            continue
        if row is not None:
            for name in ("end_at", "session_end_at", "capacity", "queue_base", "room", "part_of_day", "doctor_id"):
                setattr(slot, name, row[name])
            slot.department_id = row["department_id"]
            slot.closed = False
            updated += 1
        elif session.scalar(select(exists().where(Appointment.slot_id == slot.id))):
            slot.closed = True  # a cancelled appointment still names it: keep the row, stop offering it
            removed += 1
        else:
            session.delete(slot)
            removed += 1
    session.flush()
    if wanted:
        session.execute(insert(Slot), list(wanted.values()))
        created = len(wanted)
    return SlotChanges(created=created, updated=updated, removed=removed, kept_booked=kept)


def _own(uow: UnitOfWork, hospital_id: int, schedule_id: int, *, lock: bool = False) -> Schedule:
    query = select(Schedule).where(Schedule.id == schedule_id, Schedule.hospital_id == hospital_id)
    schedule = uow.session.scalar(query.with_for_update() if lock else query)
    if schedule is None:  # another hospital's session is not found either: its existence is not revealed
        raise NotFound(f"no session {schedule_id}", "Không tìm thấy buổi khám này.", schedule_id=schedule_id)
    return schedule


def _fields(data: SessionInput) -> dict[str, object]:
    return {
        "department_id": data.department_id,
        "doctor_id": data.doctor_id,
        "weekday": data.weekday,
        "part_of_day": data.part_of_day,
        "start_time": data.start_time,
        "end_time": data.end_time,
        "slot_minutes": data.slot_minutes,
        "capacity_per_slot": data.capacity_per_slot,
        "room": data.room.strip(),
    }


def _view(schedule: Schedule, department_name: str, doctor_name: str | None) -> SessionView:
    return SessionView(
        id=schedule.id,
        department_id=schedule.department_id,
        department_name=department_name,
        doctor_id=schedule.doctor_id,
        doctor_name=doctor_name,
        weekday=schedule.weekday,
        part_of_day=schedule.part_of_day,
        start_time=schedule.start_time,
        end_time=schedule.end_time,
        slot_minutes=schedule.slot_minutes,
        capacity_per_slot=schedule.capacity_per_slot,
        room=schedule.room,
        active=schedule.active,
    )


def _minutes(moment: dt.time) -> int:
    return moment.hour * 60 + moment.minute


def _invalid(field: str, message_vi: str) -> InvalidInput:
    return InvalidInput(f"invalid session: {field}", message_vi, field=field)


@dataclass(frozen=True)
class Choices:
    """The departments and doctors a session or a closure may name (the forms' lists)."""

    departments: list[tuple[int, str]]
    doctors: list[tuple[int, str, int]]  # id, name, department id


def choices(uow: UnitOfWork, hospital_id: int) -> Choices:
    departments = uow.session.execute(
        select(Department.id, Department.name).where(Department.hospital_id == hospital_id).order_by(Department.name)
    ).all()
    doctors = uow.session.execute(
        select(Doctor.id, Doctor.full_name, Doctor.department_id)
        .where(Doctor.hospital_id == hospital_id, Doctor.active.is_(True))
        .order_by(Doctor.full_name)
    ).all()
    return Choices([tuple(d) for d in departments], [tuple(d) for d in doctors])
