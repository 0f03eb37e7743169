"""Demo data (clearly marked as such): three fictional hospitals of one province."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from core.uow import UnitOfWork

from ..models import Department, Doctor, Hospital, Schedule, VisitType
from ..slots import generate_slots

DEMO_FILE = Path(__file__).with_name("hospitals.yaml")


def load_demo(uow: UnitOfWork, *, slot_days: int = 60, path: Path = DEMO_FILE) -> dict[str, int]:
    """Create the demo hospitals that are missing, then slots for ``slot_days`` days. Safe to re-run."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    created = 0
    for spec in data["hospitals"]:
        if uow.session.scalar(select(Hospital.id).where(Hospital.slug == spec["slug"])) is None:
            _create_hospital(uow, spec, data["departments"], data["weekly"])
            created += 1
    uow.commit()
    slots = generate_slots(uow, days=slot_days)
    return {"hospitals_created": created, "slots_created": slots}


def _create_hospital(uow: UnitOfWork, spec: dict[str, Any], catalogue: dict, weekly: list[dict]) -> None:
    session = uow.session
    hospital = Hospital(
        slug=spec["slug"],
        name=spec["name"],
        facility_code=spec["facility_code"],
        address=spec["address"],
        phone=spec["phone"],
        emergency_phone=spec["emergency_phone"],
        opening_hours=spec["opening_hours"],
        is_demo=True,
        **spec.get("rules", {}),
    )
    session.add(hospital)
    session.flush()
    for visit_type in spec["visit_types"]:
        session.add(VisitType(hospital_id=hospital.id, **visit_type))
    for room_number, slug in enumerate(spec["departments"], start=101):
        info = catalogue[slug]
        department = Department(
            hospital_id=hospital.id,
            slug=slug,
            name=info["name"],
            location=info["location"],
            what_to_bring=info["bring"],
        )
        session.add(department)
        session.flush()
        doctors = [
            Doctor(hospital_id=hospital.id, department_id=department.id, full_name=name, title=name.split(" ")[0])
            for name in spec.get("doctors", {}).get(slug, [])
        ]
        session.add_all(doctors)
        session.flush()
        for pattern in weekly:
            for weekday in pattern["weekdays"]:
                # Named doctors take turns by weekday; other sessions are the department's.
                doctor = doctors[weekday % len(doctors)] if doctors else None
                session.add(
                    Schedule(
                        hospital_id=hospital.id,
                        department_id=department.id,
                        doctor_id=doctor.id if doctor else None,
                        weekday=weekday,
                        part_of_day=pattern["part"],
                        start_time=dt.time.fromisoformat(pattern["start"]),
                        end_time=dt.time.fromisoformat(pattern["end"]),
                        slot_minutes=pattern["slot_minutes"],
                        capacity_per_slot=pattern["capacity"],
                        room=f"Phòng {room_number}",
                    )
                )
