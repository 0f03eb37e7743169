"""Demo data (clearly marked as such): three fictional hospitals of one province."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from core.uow import UnitOfWork

from ..faq import TOPICS as FAQ_TOPICS
from ..faq import HospitalFaq
from ..models import Department, Doctor, Hospital, Schedule, VisitType
from ..slots import generate_slots

DEMO_FILE = Path(__file__).with_name("hospitals.yaml")


def load_demo(uow: UnitOfWork, *, slot_days: int = 60, path: Path = DEMO_FILE) -> dict[str, int]:
    """Create the demo hospitals that are missing, add the FAQ entries they lack (hospitals loaded before FAQ
    entries existed get them too; entries a hospital edited are kept), then slots for ``slot_days`` days.
    Safe to re-run."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    created = 0
    for spec in data["hospitals"]:
        if uow.session.scalar(select(Hospital.id).where(Hospital.slug == spec["slug"])) is None:
            _create_hospital(uow, spec, data["departments"], data["weekly"])
            created += 1
        _add_missing_faq(uow, spec, data.get("faq", {}))
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
            his_codes=info.get("his_codes", ""),
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


def _add_missing_faq(uow: UnitOfWork, spec: dict[str, Any], defaults: dict[str, str]) -> int:
    """Add the demo FAQ entries (file defaults, then the hospital's own) that the demo hospital lacks."""
    session = uow.session
    hospital = session.scalar(select(Hospital).where(Hospital.slug == spec["slug"], Hospital.is_demo.is_(True)))
    if hospital is None:  # never write demo text into a real hospital that took a demo slug
        return 0
    own = dict(spec.get("faq", {}))
    entries: dict[tuple[str, str | None], str] = {}
    for topic, text in {**defaults, **{k: v for k, v in own.items() if k != "departments"}}.items():
        entries[(topic, None)] = text
    for department_slug, topics in own.get("departments", {}).items():
        for topic, text in topics.items():
            entries[(topic, department_slug)] = text
    departments = dict(
        session.execute(select(Department.slug, Department.id).where(Department.hospital_id == hospital.id)).all()
    )
    added = 0
    for (topic, department_slug), text in entries.items():
        if topic not in FAQ_TOPICS:
            raise ValueError(f"demo FAQ of {hospital.slug}: unknown topic {topic!r}")
        if department_slug is not None and department_slug not in departments:
            raise ValueError(f"demo FAQ of {hospital.slug}: no department {department_slug!r}")
        department_id = departments.get(department_slug) if department_slug else None
        exists = session.scalar(
            select(HospitalFaq.id).where(
                HospitalFaq.hospital_id == hospital.id,
                HospitalFaq.topic == topic,
                HospitalFaq.department_id.is_(None)
                if department_id is None
                else HospitalFaq.department_id == department_id,
            )
        )
        if exists is None:
            session.add(
                HospitalFaq(hospital_id=hospital.id, topic=topic, department_id=department_id, answer=text.strip())
            )
            added += 1
    session.flush()
    return added
