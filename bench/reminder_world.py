"""Many appointment reminders due at once, written in bulk: shared by ``bench/reminders.py`` and the scheduler's
exactly-once tests.

One hospital with ``departments`` departments, one schedule and one slot each, all starting at the same
minute 24 hours from now (so the ``before_24h`` reminder of every appointment falls due in the current
minute and the ``before_2h`` one does not), each slot full (``booked == capacity``, queue numbers
``queue_base ..``). Every appointment has its own patient, its own Zalo account (``zalo``,
``"<oa_id>:<user_id>"``) and a conversation whose last interaction is now: the chat window is open, so the
reminders go out as chat messages whatever the hour (no ZNS night ban). The appointments were booked two
days before, so no reminder is skipped as "booked after this reminder's time".

Rows are inserted with Core ``insert`` executemany, not through the booking service: the service is not what
is measured, and 10,000 bookings through it would take longer than the measurement.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import insert, select

from bench.delivery import add_followers
from bot.zalo_webhook.oas import OARegistry
from core.booking.codes import ALPHABET, CODE_LENGTH
from core.booking.models import Account, Appointment, Department, Hospital, Patient, Schedule, Slot
from core.config import Settings, ZaloOASettings
from core.timeutil import to_local, utcnow
from core.uow import Database
from tests.factories import hospital_row

CHUNK = 2_000  # rows per executemany


@dataclass(frozen=True)
class DueReminders:
    hospital: str
    oa_id: str
    user_ids: list[str]  # one Zalo user per appointment, in appointment order
    appointment_ids: list[int]
    starts_at: dt.datetime  # UTC; the before_24h reminders are due at starts_at - 24 h (the seeding minute)


def booking_code(n: int) -> str:
    """A distinct six-character booking code per ``n`` (the booking alphabet, read as base 32)."""
    symbols = []
    for _ in range(CODE_LENGTH):
        n, digit = divmod(n, len(ALPHABET))
        symbols.append(ALPHABET[digit])
    return "".join(reversed(symbols))


def part_of_day(local: dt.datetime) -> str:
    return "morning" if local.hour < 12 else "afternoon" if local.hour < 17 else "evening"


def seed_due_reminders(
    db: Database,
    oa: ZaloOASettings,
    count: int,
    *,
    departments: int = 20,
    now: dt.datetime | None = None,
    user_prefix: str = "7",
    code_offset: int = 0,
) -> DueReminders:
    """``count`` booked appointments whose 24 h reminder is due in the current minute, for ``oa``'s hospital
    (created here, with the OA's row synced). ``user_prefix`` and ``code_offset`` keep users and booking codes
    of a second call distinct."""
    now = now or utcnow()
    minute = now.replace(second=0, microsecond=0)
    starts_at = minute + dt.timedelta(hours=24)
    local = to_local(starts_at)
    booked_at = now - dt.timedelta(days=2)
    departments = max(1, min(departments, count))
    per_department = math.ceil(count / departments)
    with db.uow() as uow:
        session = uow.session
        hospital = session.scalar(select(Hospital).where(Hospital.slug == oa.hospital))
        if hospital is None:
            hospital = hospital_row(
                oa.hospital, "Bệnh viện Nhắc lịch", "88888", "2 Đường Nhắc Lịch", "02900000001", "02900000115"
            )
            session.add(hospital)
            session.flush()
        first_department = session.scalar(select(Department.id).order_by(Department.id.desc()).limit(1)) or 0
        slot_ids: list[int] = []
        for d in range(departments):
            department = Department(
                hospital_id=hospital.id,
                slug=f"k{first_department + d + 1}",
                name=f"Khoa Khám {first_department + d + 1}",
                location="Khu B, tầng 2",
                what_to_bring="CCCD, thẻ BHYT",
            )
            session.add(department)
            session.flush()
            start_time = local.time().replace(tzinfo=None)
            end_time = min(
                dt.time(23, 59, 59), (dt.datetime.combine(local.date(), start_time) + dt.timedelta(minutes=30)).time()
            )
            if end_time <= start_time:
                end_time = dt.time(23, 59, 59)
            schedule = Schedule(
                hospital_id=hospital.id,
                department_id=department.id,
                weekday=local.weekday(),
                part_of_day=part_of_day(local),
                start_time=start_time,
                end_time=end_time,
                slot_minutes=30,
                capacity_per_slot=per_department,
                room=f"P{d + 101}",
            )
            session.add(schedule)
            session.flush()
            taken = min(per_department, count - d * per_department)
            slot = Slot(
                hospital_id=hospital.id,
                department_id=department.id,
                schedule_id=schedule.id,
                day=local.date(),
                part_of_day=schedule.part_of_day,
                start_at=starts_at,
                end_at=starts_at + dt.timedelta(minutes=30),
                session_end_at=starts_at + dt.timedelta(hours=1),
                capacity=per_department,
                booked=max(0, taken),
                queue_base=1,
                room=schedule.room,
            )
            session.add(slot)
            session.flush()
            slot_ids.append(slot.id)
        uow.commit()

    user_ids = [f"{user_prefix}{i:017d}" for i in range(count)]
    with db.uow() as uow:
        session = uow.session
        session.execute(
            insert(Account.__table__),
            [{"provider": "zalo", "external_id": f"{oa.oa_id}:{u}", "created_at": booked_at} for u in user_ids],
        )
        accounts = dict(
            session.execute(
                select(Account.external_id, Account.id).where(
                    Account.provider == "zalo", Account.external_id.like(f"{oa.oa_id}:{user_prefix}%")
                )
            ).all()
        )
        for chunk in range(0, count, CHUNK):
            session.execute(
                insert(Patient.__table__),
                [
                    {
                        "account_id": accounts[f"{oa.oa_id}:{user_ids[i]}"],
                        "relation": "self",
                        "full_name": f"Người bệnh {user_prefix}-{i}",
                        "date_of_birth": dt.date(1950, 1, 1) + dt.timedelta(days=(i * 37) % 25_000),
                        "sex": "male" if i % 2 else "female",
                        "phone": f"+849{(code_offset + i) % 100_000_000:08d}",
                        "address": "",
                        "created_at": booked_at,
                    }
                    for i in range(chunk, min(count, chunk + CHUNK))
                ],
            )
        patients = dict(
            session.execute(
                select(Patient.account_id, Patient.id).where(Patient.account_id.in_(list(accounts.values())))
            ).all()
        )
        rows = []
        for i, user_id in enumerate(user_ids):
            d, position = divmod(i, per_department)
            rows.append(
                {
                    "code": booking_code(code_offset + i),
                    "hospital_id": hospital.id,
                    "department_id": None,  # filled below
                    "slot_id": slot_ids[d],
                    "patient_id": patients[accounts[f"{oa.oa_id}:{user_id}"]],
                    "status": "booked",
                    "day": local.date(),
                    "part_of_day": part_of_day(local),
                    "starts_at": starts_at,
                    "session_end_at": starts_at + dt.timedelta(hours=1),
                    "queue_number": 1 + position,
                    "channel": "zalo",
                    "reason": "",
                    "created_at": booked_at,
                    "updated_at": booked_at,
                }
            )
        departments_of = dict(session.execute(select(Slot.id, Slot.department_id).where(Slot.id.in_(slot_ids))).all())
        for row in rows:
            row["department_id"] = departments_of[row["slot_id"]]
        for chunk in range(0, count, CHUNK):
            session.execute(insert(Appointment.__table__), rows[chunk : chunk + CHUNK])
        add_followers(session, oa.oa_id, user_ids, since=booked_at, now=now)
        appointment_ids = list(
            session.scalars(
                select(Appointment.id)
                .where(Appointment.slot_id.in_(slot_ids), Appointment.status == "booked")
                .order_by(Appointment.id)
            )
        )
        uow.commit()
    with db.uow() as uow:
        OARegistry(Settings(database_url=db.url, zalo_oas=[oa])).sync(uow)
    return DueReminders(oa.hospital, oa.oa_id, user_ids, appointment_ids, starts_at)
