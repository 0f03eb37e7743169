"""Re-exam dates (the follow-up a doctor asked for) and their reminders.

Until the EMR lands, the hospital's system enters them through the API. Each gets reminders a configurable
number of days before (default 3 and 1), at 08:00 Vietnam time, with a button that opens booking in the
department on that date. A patient who already has an upcoming visit booked in that department is not reminded
(the reminder is recorded as skipped, with the booking's code).

Imported re-exams (the EMR's XML14 slips, core/emr/reexam_sync.py) come through :func:`sync_imported_re_exams`,
under the same date rules (:func:`due_date_problem`): one row per booking profile and source record, moved
(the old row cancelled, a new one created, so its reminders are planned afresh for the new date) when a
corrected slip gives another date, cancelled when the record is withdrawn. History reminds nobody.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, Select, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from core import audit, tenancy
from core.booking.catalogue import find_department, find_hospital
from core.booking.models import (
    ACCOUNTS,
    APPOINTMENTS,
    PATIENTS,
    AppointmentStatus,
    Hospital,
)
from core.booking.patients import find_patient
from core.errors import InvalidInput, NotFound
from core.timeutil import local_to_utc, local_today, to_local, utcnow
from core.uow import Database, UnitOfWork

from .models import REMINDERS, ReExam
from .planning import BATCH, Notifier, Plan, plan_all
from .views import ReExamView

RE_EXAMS = ReExam.__table__
SEND_AT = dt.time(8, 0)  # local time of day re-exam reminders go out
MAX_AHEAD = dt.timedelta(days=366)


def record_re_exam(
    uow: UnitOfWork,
    *,
    patient_id: int,
    due_date: dt.date,
    hospital_id: int | None = None,
    hospital: str | None = None,
    department: str | None = None,
    note: str = "",
    source: str = "api",
    now: dt.datetime | None = None,
) -> tuple[ReExamView, bool]:
    """Record the re-exam date of a patient at a hospital (the client's own, else the one named). The same
    patient, department and date again returns the existing one (created False)."""
    now = now or utcnow()
    find_patient(uow, patient_id, None)
    hospital_row = _hospital(uow, hospital_id, hospital)
    department_id = find_department(uow, hospital_row, department).id if department else None
    problem = due_date_problem(due_date, now)
    if problem is not None:
        raise problem
    existing = uow.session.scalar(
        select(ReExam.id).where(
            ReExam.patient_id == patient_id,
            ReExam.hospital_id == hospital_row.id,
            ReExam.department_id.is_(None) if department_id is None else ReExam.department_id == department_id,
            ReExam.due_date == due_date,
            ReExam.cancelled_at.is_(None),
        )
    )
    if existing is not None:
        return load_re_exam(uow, existing), False
    row = ReExam(
        hospital_id=hospital_row.id,
        patient_id=patient_id,
        department_id=department_id,
        due_date=due_date,
        note=note.strip()[:1000],
        source=source,
        created_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    view = load_re_exam(uow, row.id)
    uow.commit()
    return view, True


def due_date_problem(due_date: dt.date, now: dt.datetime, *, given_on: dt.date | None = None) -> InvalidInput | None:
    """Why a re-exam on ``due_date`` is nobody to remind as of ``now`` (None: it is one): the date has passed,
    it is more than a year ahead, or the visit that gave it (on ``given_on``) is more than a year old. The API
    refuses such a date with this error; an import keeps it in the record as history and reminds nobody."""
    today = local_today(now)
    if due_date < today:
        return InvalidInput("due_date is in the past", "Dạ, ngày tái khám đã qua ạ.", field="due_date")
    if due_date > today + MAX_AHEAD:
        return InvalidInput(
            "due_date is more than a year ahead", "Dạ, ngày tái khám cách quá xa (hơn một năm) ạ.", field="due_date"
        )
    if given_on is not None and given_on < today - MAX_AHEAD:
        return InvalidInput(
            "the visit is more than a year old", "Dạ, lần khám này đã cách hơn một năm ạ.", field="due_date"
        )
    return None


@dataclass(frozen=True)
class ImportedReExam:
    """A re-exam date a source record gives one booking profile."""

    patient_id: int
    hospital_id: int
    department_id: int | None
    due_date: dt.date
    note: str = ""
    given_on: dt.date | None = None  # the day of the visit that gave it


@dataclass(frozen=True)
class ReExamSync:
    """What :func:`sync_imported_re_exams` did: re-exam rows created, cancelled (moved or withdrawn), kept."""

    created: tuple[int, ...] = ()
    cancelled: tuple[int, ...] = ()
    kept: tuple[int, ...] = ()


def sync_imported_re_exams(
    session: Session,
    source_ref: str,
    wanted: Sequence[ImportedReExam],
    *,
    source: str,
    now: dt.datetime,
) -> ReExamSync:
    """Make the live re-exams of ``source_ref`` (e.g. "emr:<facility>:<MA_LK>") be ``wanted``, in the caller's
    transaction (no commit).

    A live row of the same profile, hospital, department and date is kept (whatever the date now is: a re-exam
    that was due stays what it was). Otherwise a wanted date that reminds (:func:`due_date_problem`) gets a new
    row, or adopts a live one entered by hand for the same profile, department and date (no second reminder);
    one that does not (history) gets nothing. Every other live row of ``source_ref`` is cancelled: a moved date
    is a cancelled row plus a new one, so the reminders already sent stay with the old date and the new date's
    are planned afresh (reminder keys are ``reexam:<id>:<kind>``). ``wanted`` empty cancels them all."""
    live = list(
        session.scalars(
            select(ReExam)
            .where(ReExam.source_ref == source_ref, ReExam.cancelled_at.is_(None))
            .order_by(ReExam.id)
            .with_for_update()
        )
    )
    created: list[int] = []
    kept: list[int] = []
    for item in wanted:
        note = item.note.strip()[:1000]
        same = next((row for row in live if row.id not in kept and _same_date(row, item)), None)
        if same is not None:
            same.note = note
            kept.append(same.id)
            continue
        if due_date_problem(item.due_date, now, given_on=item.given_on) is not None:
            continue
        entered = session.scalar(
            select(ReExam)
            .where(
                ReExam.patient_id == item.patient_id,
                ReExam.hospital_id == item.hospital_id,
                ReExam.department_id.is_(None)
                if item.department_id is None
                else ReExam.department_id == item.department_id,
                ReExam.due_date == item.due_date,
                ReExam.source_ref.is_(None),
                ReExam.cancelled_at.is_(None),
            )
            .limit(1)
            .with_for_update()
        )
        if entered is not None:
            entered.source_ref = source_ref
            kept.append(entered.id)
            continue
        row = ReExam(
            hospital_id=item.hospital_id,
            patient_id=item.patient_id,
            department_id=item.department_id,
            due_date=item.due_date,
            note=note,
            source=source,
            source_ref=source_ref,
            created_at=now,
        )
        session.add(row)
        session.flush()
        created.append(row.id)
    cancelled = [row.id for row in live if row.id not in kept]
    for row in live:
        if row.id in cancelled:
            row.cancelled_at = now
    session.flush()
    return ReExamSync(tuple(created), tuple(cancelled), tuple(kept))


def _same_date(row: ReExam, item: ImportedReExam) -> bool:
    return (row.patient_id, row.hospital_id, row.department_id, row.due_date) == (
        item.patient_id,
        item.hospital_id,
        item.department_id,
        item.due_date,
    )


def cancel_re_exam(
    uow: UnitOfWork, re_exam_id: int, *, hospital_id: int | None = None, now: dt.datetime | None = None
) -> ReExamView:
    """No more reminders for it (cancelling twice is harmless)."""
    row = uow.session.get(ReExam, re_exam_id)
    if row is None:
        raise _not_found(re_exam_id)
    tenancy.ensure_same_hospital(uow, row.hospital_id, "re-exam", hospital_id)
    if row.cancelled_at is None:
        row.cancelled_at = now or utcnow()
    view = load_re_exam(uow, re_exam_id)
    uow.commit()
    return view


def patient_re_exams(uow: UnitOfWork, patient_id: int, *, hospital_id: int | None = None) -> list[ReExamView]:
    find_patient(uow, patient_id, None)
    query = ReExamView.query().where(RE_EXAMS.c.patient_id == patient_id).order_by(RE_EXAMS.c.due_date)
    confined = tenancy.confinement(uow, hospital_id)
    if confined is not None:
        query = query.where(RE_EXAMS.c.hospital_id == confined)
    rows = uow.session.execute(query).all()
    audit.record_reads(uow, "patient", [patient_id])
    return [ReExamView.from_row(row) for row in rows]


def load_re_exam(uow: UnitOfWork, re_exam_id: int) -> ReExamView:
    row = uow.session.execute(ReExamView.query().where(RE_EXAMS.c.id == re_exam_id)).first()
    if row is None:
        raise _not_found(re_exam_id)
    return ReExamView.from_row(row)


def re_exam_key(re_exam_id: int, kind: str) -> str:
    return f"reexam:{re_exam_id}:{kind}"


def plan_re_exam_reminders(
    db: Database,
    notifier: Notifier,
    days_before: Sequence[int],
    *,
    now: dt.datetime | None = None,
    batch: int = BATCH,
) -> int:
    """Plan every re-exam reminder due at ``now`` (``reexam_3d`` goes at 08:00 three days before the date);
    returns how many reminder rows were written. When several are due at once only the nearest is sent."""
    now = now or utcnow()
    days = sorted({d for d in days_before if d >= 0})
    today = local_today(now)
    # A reminder N days before is due from 08:00 on that day: dates up to this one are due for it.
    sent_day = (to_local(now) - dt.timedelta(hours=SEND_AT.hour, minutes=SEND_AT.minute)).date()
    written = 0
    for position, n in enumerate(days):
        kind = f"reexam_{n}d"
        nearer = days[:position]

        def plan(row: Row, n: int = n, kind: str = kind, nearer: Sequence[int] = nearer) -> Plan:
            due_at = local_to_utc(row.due_date - dt.timedelta(days=n), SEND_AT)
            superseded = next((m for m in nearer if row.due_date - dt.timedelta(days=m) <= sent_day), None)
            skip = ""
            if row.booked_code:
                skip = f"a visit is already booked ({row.booked_code})"
            elif superseded is not None:
                skip = f"the reexam_{superseded}d reminder replaces it"
            return Plan(
                re_exam_key(row.id, kind),
                kind,
                ReExamView.from_row(row),
                row.hospital_id,
                row.patient_id,
                None,
                row.id,
                target_at=local_to_utc(row.due_date, dt.time(0, 0)),
                due_at=due_at,
                useful_until=local_to_utc(row.due_date, dt.time(23, 59)),
                skip=skip,
            )

        params = {"kind": kind, "today": today, "last_day": sent_day + dt.timedelta(days=n)}
        written += plan_all(db, notifier, _due(), params, plan, now, batch)
    return written


@functools.cache
def _due() -> Select:
    """Live re-exam dates from ``today`` to ``last_day`` with no ``kind`` reminder yet, claimed in batches;
    with the code of an upcoming visit already booked in its department, if any."""
    planned = exists().where(REMINDERS.c.re_exam_id == RE_EXAMS.c.id, REMINDERS.c.kind == bindparam("kind"))
    same_department = or_(RE_EXAMS.c.department_id.is_(None), APPOINTMENTS.c.department_id == RE_EXAMS.c.department_id)
    booked = (
        select(APPOINTMENTS.c.code)
        .where(
            APPOINTMENTS.c.patient_id == RE_EXAMS.c.patient_id,
            APPOINTMENTS.c.hospital_id == RE_EXAMS.c.hospital_id,
            APPOINTMENTS.c.status == AppointmentStatus.BOOKED.value,
            same_department,
            APPOINTMENTS.c.day >= bindparam("today"),
        )
        .limit(1)
        .scalar_subquery()
        .label("booked_code")
    )
    return (
        ReExamView.query()
        .add_columns(
            PATIENTS.c.phone,
            ACCOUNTS.c.provider.label("account_provider"),
            ACCOUNTS.c.external_id.label("account_key"),
            booked,
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == PATIENTS.c.account_id)
        .where(
            RE_EXAMS.c.cancelled_at.is_(None),
            RE_EXAMS.c.due_date >= bindparam("today"),
            RE_EXAMS.c.due_date <= bindparam("last_day"),
            ~planned,
        )
        .order_by(RE_EXAMS.c.due_date, RE_EXAMS.c.id)
        .limit(bindparam("limit"))
        .with_for_update(of=RE_EXAMS, skip_locked=True)
    )


def _hospital(uow: UnitOfWork, hospital_id: int | None, slug: str | None) -> Hospital:
    hospital_id = tenancy.confinement(uow, hospital_id)
    if hospital_id is not None:
        row = uow.session.get(Hospital, hospital_id)
        if row is None or (slug and slug != row.slug):
            raise tenancy.OtherHospital("hospital")
        return row
    if not slug:
        raise InvalidInput("hospital is required", "Dạ, cần cho biết bệnh viện ạ.", field="hospital")
    return find_hospital(uow, slug)


def _not_found(re_exam_id: int) -> NotFound:
    return NotFound(f"no re-exam {re_exam_id}", "Dạ, em không tìm thấy lịch tái khám này ạ.", re_exam_id=re_exam_id)
