"""Slots materialised from weekly schedules and closures; the demo data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.booking import slots
from core.booking.demo import load_demo
from core.booking.models import Department, Hospital, Schedule, Slot
from tests.factories import build_world

MONDAY = dt.date(2026, 12, 7)


def _count(db, *where) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Slot).where(*where))


def test_generation_follows_the_week_and_is_idempotent(db):
    build_world(db, start=MONDAY, days=7)
    # 2 departments × 7 days × (8 morning + 6 afternoon half-hour slots)
    assert _count(db) == 2 * 7 * 14
    with db.uow() as uow:
        uow.session.execute(Schedule.__table__.update().where(Schedule.weekday == 6).values(active=False))
        uow.commit()
        assert slots.generate_slots(uow, start=MONDAY, days=14) == 2 * 6 * 14, "only the new week, without Sunday"
    with db.uow() as uow:
        assert slots.generate_slots(uow, start=MONDAY, days=14) == 0
    assert _count(db, Slot.day == MONDAY + dt.timedelta(days=13)) == 0  # the second Sunday
    with db.uow() as uow:
        first = uow.session.scalars(select(Slot).where(Slot.day == MONDAY).order_by(Slot.start_at)).first()
        assert (first.start_at.hour, first.capacity, first.queue_base) == (0, 2, 1)  # 07:00 local = 00:00 UTC


def test_closures_remove_days_for_a_hospital_a_department_or_a_doctor(db):
    build_world(db, start=MONDAY, days=1)
    with db.uow() as uow:
        slots.add_closure(
            uow,
            hospital_slug="test",
            start=MONDAY + dt.timedelta(days=1),
            end=MONDAY + dt.timedelta(days=1),
            reason="Tết Dương lịch",
        )
        slots.add_closure(
            uow,
            hospital_slug="test",
            start=MONDAY + dt.timedelta(days=2),
            end=MONDAY + dt.timedelta(days=2),
            reason="Khoa Mắt tập huấn",
            department_slug="mat",
        )
    with db.uow() as uow:
        slots.generate_slots(uow, start=MONDAY, days=3)
    assert _count(db, Slot.day == MONDAY + dt.timedelta(days=1)) == 0
    with db.uow() as uow:
        mat = uow.session.scalar(select(Department.id).where(Department.slug == "mat"))
    assert _count(db, Slot.day == MONDAY + dt.timedelta(days=2), Slot.department_id == mat) == 0
    assert _count(db, Slot.day == MONDAY + dt.timedelta(days=2), Slot.department_id != mat) == 14


def test_demo_data_is_marked_and_reloadable(db):
    with db.uow() as uow:
        first = load_demo(uow, slot_days=3)
    with db.uow() as uow:
        again = load_demo(uow, slot_days=3)
        hospitals = uow.session.scalars(select(Hospital).order_by(Hospital.id)).all()
        departments = uow.session.scalar(
            select(func.count()).select_from(Department).where(Department.hospital_id == hospitals[0].id)
        )
        assert [h.is_demo for h in hospitals] == [True, True, True]
        assert all("DEMO" in h.name for h in hospitals)
        assert departments == 20
    assert first["hospitals_created"] == 3 and first["slots_created"] > 0
    assert again == {"hospitals_created": 0, "slots_created": 0}
