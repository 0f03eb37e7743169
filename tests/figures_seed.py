"""A small, fully known set of bookings, receptions, reminders and HIS visits for the figures' tests: the rows
are inserted directly (the services that make them are tested elsewhere) so each test knows every number."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from sqlalchemy import insert, select

from core.booking.models import APPOINTMENTS, Department, Hospital, Slot
from core.emr.models import Person, Visit
from core.figures.channel import AssistantDay, Delivery
from core.reminders.models import REMINDERS
from core.staff.models import ReceptionTiming
from core.timeutil import local_to_utc
from core.uow import Database, UnitOfWork

DAY = dt.date(2026, 11, 10)  # a Tuesday: the seeded day
_numbers = itertools.count(1)


def at(day: dt.date, hhmm: str = "09:00", seconds: float = 0) -> dt.datetime:
    return local_to_utc(day, dt.time.fromisoformat(hhmm)) + dt.timedelta(seconds=seconds)


@dataclass
class Place:
    """Where seeded appointments point (a slot and a patient of the test world; the roll-up reads neither)."""

    hospital_id: int
    departments: dict[str, int]
    slot_id: int
    patient_id: int


def place(db: Database, hospital: str = "test") -> Place:
    from core.booking.models import Account, Patient

    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == hospital))
        departments = dict(
            uow.session.execute(
                select(Department.slug, Department.id).where(Department.hospital_id == hospital_id)
            ).all()
        )
        slot_id = uow.session.scalar(select(Slot.id).order_by(Slot.id).limit(1))
        patient_id = uow.session.scalar(select(Patient.id).limit(1))
        if patient_id is None:
            account = Account(provider="test", external_id=f"seed-{next(_numbers)}")
            uow.session.add(account)
            uow.session.flush()
            patient = Patient(
                account_id=account.id,
                full_name="Người Thử",
                date_of_birth=dt.date(1990, 1, 1),
                sex="male",
                phone="+84900000001",
            )
            uow.session.add(patient)
            uow.session.flush()
            patient_id = patient.id
        uow.commit()
    return Place(hospital_id, departments, slot_id, patient_id)


def appointment(
    db: Database,
    where: Place,
    *,
    day: dt.date = DAY,
    status: str = "checked_in",
    channel: str = "zalo",
    created: dt.datetime | None = None,
    confirmed: bool = False,
    department: str = "nhi",
    patient_id: int | None = None,
) -> int:
    n = next(_numbers)
    starts = at(day, "09:00")
    row = {
        "code": f"F{n:07d}",
        "hospital_id": where.hospital_id,
        "department_id": where.departments.get(department) or next(iter(where.departments.values())),
        "slot_id": where.slot_id,
        "patient_id": patient_id or where.patient_id,
        "status": status,
        "day": day,
        "part_of_day": "morning",
        "starts_at": starts,
        "session_end_at": starts + dt.timedelta(hours=2),
        "queue_number": 10_000 + n,
        "channel": channel,
        "reason": "",
        "created_at": created or at(day - dt.timedelta(days=1)),
        "updated_at": starts,
        "checked_in_at": starts if status in ("checked_in", "completed") else None,
        "confirmed_at": starts - dt.timedelta(hours=20) if confirmed else None,
    }
    with db.uow() as uow:
        appointment_id = uow.session.execute(insert(APPOINTMENTS).returning(APPOINTMENTS.c.id), row).scalar_one()
        uow.commit()
    return appointment_id


def reception(
    db: Database, where: Place, appointment_id: int, staff_id: int | None, desk: str, seconds: float, day: dt.date = DAY
) -> None:
    looked = at(day, "08:00", next(_numbers))
    with db.uow() as uow:
        uow.session.add(
            ReceptionTiming(
                hospital_id=where.hospital_id,
                appointment_id=appointment_id,
                staff_id=staff_id,
                desk=desk,
                looked_up_at=looked,
                checked_in_at=looked + dt.timedelta(seconds=seconds) if seconds >= 0 else None,
            )
        )
        uow.commit()


def reminder(
    db: Database,
    where: Place,
    appointment_id: int | None,
    *,
    outcome: str = "queued",
    reason: str = "",
    message_key: str | None = None,
    day: dt.date = DAY,
) -> None:
    n = next(_numbers)
    row = {
        "key": f"seed:{n}",
        "kind": "before_24h",
        "hospital_id": where.hospital_id,
        "patient_id": where.patient_id,
        "appointment_id": appointment_id,
        "target_at": at(day, "09:00"),
        "due_at": at(day, "07:00"),
        "created_at": at(day, "07:00"),
        "outcome": outcome,
        "reason": reason,
        "message_key": message_key,
    }
    with db.uow() as uow:
        uow.session.execute(insert(REMINDERS), row)
        uow.commit()


def his_visits(db: Database, where: Place, count: int, day: dt.date = DAY, *, cancelled: int = 0) -> None:
    with db.uow() as uow:
        person = Person(full_name="Người Thử", name_key="nguoi thu")
        uow.session.add(person)
        uow.session.flush()
        for n in range(count + cancelled):
            uow.session.add(
                Visit(
                    person_id=person.id,
                    facility_code="99999",
                    hospital_id=where.hospital_id,
                    visit_key=f"LK{next(_numbers)}",
                    content_hash="x" * 64,
                    source="xml130",
                    identity={},
                    kind="outpatient",
                    arrived_at=at(day, "08:00", n),
                    cancelled_at=at(day, "12:00") if n >= count else None,
                )
            )
        uow.commit()


@dataclass
class FakeChannel:
    """The channel port with known answers."""

    days: dict[int, AssistantDay] = field(default_factory=dict)
    sent: dict[str, Delivery] = field(default_factory=dict)

    def assistant_days(self, uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> Mapping[int, AssistantDay]:
        return self.days if local_to_utc(DAY, dt.time()) == start else {}

    def deliveries(self, uow: UnitOfWork, message_keys: Collection[str]) -> Mapping[str, Delivery]:
        return {k: v for k, v in self.sent.items() if k in message_keys}
