"""A small, fully known hospital for tests (the demo data is too big to build per test)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from core.booking import patients
from core.booking.models import Department, Hospital, Schedule, Slot, VisitType
from core.booking.slots import generate_slots
from core.timeutil import local_today
from core.uow import Database


@dataclass
class World:
    hospital: str
    departments: list[str]
    account_id: int


HOSPITAL_FIELDS = ("slug", "name", "facility_code", "address", "phone", "emergency_phone")


def hospital_row(*values: str, **rules: object) -> Hospital:
    """A hospital open 7:00–16:30, of ``values`` in the order of HOSPITAL_FIELDS (the tests' and the benches')."""
    return Hospital(**dict(zip(HOSPITAL_FIELDS, values, strict=True)), opening_hours="7:00–16:30", **rules)


def build_world(
    db: Database,
    *,
    start: dt.date,
    days: int = 14,
    capacity: int = 2,
    slot_minutes: int = 30,
    slug: str = "test",
    **rules: object,
) -> World:
    """Hospital ``slug`` ("test": Bệnh viện Thử nghiệm, facility 99999; another slug gets a name and a facility
    code of its own) with departments nhi and mat: every day 07:00-11:00 and 13:30-16:30."""
    name, code = ("Bệnh viện Thử nghiệm", "99999") if slug == "test" else (f"Bệnh viện {slug.upper()}", None)
    with db.uow() as uow:
        code = code or f"{90000 + (uow.session.scalar(select(func.count()).select_from(Hospital)) or 0):05d}"
        hospital = hospital_row(slug, name, code, "1 Đường Thử", "02900000000", "02900000115", **rules)
        uow.session.add(hospital)
        uow.session.flush()
        uow.session.add_all(
            [
                VisitType(hospital_id=hospital.id, code="bhyt", name="Khám BHYT", kind="insurance", price_vnd=0),
                VisitType(
                    hospital_id=hospital.id, code="dich_vu", name="Khám dịch vụ", kind="service", price_vnd=150000
                ),
            ]
        )
        for slug, name in (("nhi", "Nhi"), ("mat", "Mắt")):
            department = Department(
                hospital_id=hospital.id, slug=slug, name=name, location="Khu A", what_to_bring="CCCD"
            )
            uow.session.add(department)
            uow.session.flush()
            for weekday in range(7):
                for part, start_time, end_time in (("morning", "07:00", "11:00"), ("afternoon", "13:30", "16:30")):
                    uow.session.add(
                        Schedule(
                            hospital_id=hospital.id,
                            department_id=department.id,
                            weekday=weekday,
                            part_of_day=part,
                            start_time=dt.time.fromisoformat(start_time),
                            end_time=dt.time.fromisoformat(end_time),
                            slot_minutes=slot_minutes,
                            capacity_per_slot=capacity,
                            room=f"Phòng {name}",
                        )
                    )
        uow.commit()
        generate_slots(uow, start=start, days=days)
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "test", "account-1")
    return World(hospital=slug, departments=["nhi", "mat"], account_id=account_id)


def new_patient(db: Database, account_id: int, n: int = 0, **overrides: object) -> int:
    data = {
        "account_id": account_id,
        "full_name": f"Nguyễn Văn Thử {n}",
        "date_of_birth": dt.date(1990, 1, 1) + dt.timedelta(days=n),
        "sex": "male",
        "phone": f"09{n:08d}"[-10:] if n else "0912345678",
    }
    data.update(overrides)
    with db.uow() as uow:
        view, _ = patients.register_patient(uow, **data)
    return view.id


def book(db: Database, world: World, slot_id: int, patient_id: int, *, now: dt.datetime, **kw: object):
    """Book through the core service as the world's account; returns the AppointmentView."""
    from core.booking import appointments

    with db.uow() as uow:
        view, _ = appointments.book(
            uow,
            appointments.BookingRequest(
                slot_id=slot_id, patient_id=patient_id, channel="test", account_id=world.account_id, **kw
            ),
            now=now,
        )
    return view


def slot_at(db: Database, department: str, day: dt.date, hhmm: str) -> int:
    """The id of the slot of ``department`` starting at local ``hhmm`` on ``day``."""
    from core.timeutil import local_to_utc

    with db.uow() as uow:
        slot_id = uow.session.scalar(
            select(Slot.id)
            .join(Department, Department.id == Slot.department_id)
            .where(Department.slug == department, Slot.start_at == local_to_utc(day, dt.time.fromisoformat(hhmm)))
        )
    assert slot_id is not None, f"no {department} slot at {day} {hhmm}"
    return slot_id


def today_local() -> dt.date:
    return local_today()


def add_hospital(db: Database, slug: str = "other") -> None:
    """A second hospital ``slug`` ("Bệnh viện Khác"): no departments, no OA."""
    with db.uow() as uow:
        uow.session.add(hospital_row(slug, "Bệnh viện Khác", "88888", "2 Đường Khác", "02900000001", "02900000116"))
        uow.commit()


def add_department(
    db: Database,
    slug: str,
    name: str,
    *,
    hospital: str = "test",
    location: str = "",
    what_to_bring: str = "",
    sessions: tuple[tuple[int, str, str, str], ...] = (),
    room: str = "",
) -> int:
    """A department of ``hospital`` with weekly ``sessions`` (weekday, part of day, "HH:MM" start, end);
    no slots are generated. Returns its id."""
    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == hospital))
        department = Department(
            hospital_id=hospital_id, slug=slug, name=name, location=location, what_to_bring=what_to_bring
        )
        uow.session.add(department)
        uow.session.flush()
        for weekday, part, start_time, end_time in sessions:
            uow.session.add(
                Schedule(
                    hospital_id=hospital_id,
                    department_id=department.id,
                    weekday=weekday,
                    part_of_day=part,
                    start_time=dt.time.fromisoformat(start_time),
                    end_time=dt.time.fromisoformat(end_time),
                    slot_minutes=15,
                    capacity_per_slot=1,
                    room=room,
                )
            )
        uow.commit()
        return department.id


def add_faq(db: Database, topic: str, answer: str, *, hospital: str = "test", department: str | None = None) -> None:
    """A hospital_faq entry of ``hospital`` (of one of its departments when ``department`` is given)."""
    from core.booking.faq import HospitalFaq

    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == hospital))
        department_id = (
            uow.session.scalar(
                select(Department.id).where(Department.hospital_id == hospital_id, Department.slug == department)
            )
            if department
            else None
        )
        uow.session.add(HospitalFaq(hospital_id=hospital_id, topic=topic, department_id=department_id, answer=answer))
        uow.commit()
