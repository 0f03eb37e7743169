"""Re-exam slips (XML14) feed the reminders: the live slip of a visit is a core.reminders re-exam date for each
booking profile linked to the visit's person.

The importer calls :func:`sync_visit` after each stored current visit (or :func:`sync_visits` once for a batch
of them), in its transaction; the booking profiles code calls :func:`sync_person` once it links a profile to a
person (so a profile linked after the import still gets the reminder). A visit's re-exams carry
``source_ref = "emr:<facility>:<MA_LK>"``: a corrected slip (a new version with another date) moves them
(core.reminders.reexams cancels the old row and creates a new one), a cancelled visit or a slip a correction
dropped cancels them, and history (a date already past, a visit more than a year old) is kept in the record and
reminds nobody. A visit of a facility that is no henkham hospital reminds nobody either: no hospital can take
the booking.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from core.booking.models import Department
from core.reminders.models import ReExam
from core.reminders.reexams import ImportedReExam, ReExamSync, sync_imported_re_exams
from core.timeutil import to_local

from .exclusions import Exclusions
from .models import Person, ProfileLink, ReExamSlip, Visit

log = logging.getLogger(__name__)

SOURCE = "emr"


def source_ref(facility_code: str, visit_key: str) -> str:
    return f"emr:{facility_code}:{visit_key}"


def sync_visit(session: Session, visit_id: int, now: dt.datetime) -> ReExamSync:
    """Bring the re-exams of the visit ``visit_id`` (any of its versions: the current one decides) in line
    with its live slip, in the caller's transaction (no commit)."""
    visit = session.execute(_VISIT.where(Visit.id == visit_id)).first()
    if visit is None:
        return ReExamSync()
    if visit.superseded_at is not None:
        visit = session.execute(
            _VISIT.where(
                Visit.facility_code == visit.facility_code,
                Visit.visit_key == visit.visit_key,
                Visit.superseded_at.is_(None),
            )
        ).first()
        if visit is None:
            return ReExamSync()
    if visit.due_date is None and visit.version == 1:
        return ReExamSync()  # no slip ever: nothing to remind, nothing to cancel (most visits of an import)
    wanted: list[ImportedReExam] = []
    if visit.due_date is not None and visit.cancelled_at is None and visit.hospital_id is not None:
        department_id = _department(session, visit.hospital_id, visit.departments)
        wanted = [
            ImportedReExam(
                patient_id=patient_id,
                hospital_id=visit.hospital_id,
                department_id=department_id,
                due_date=visit.due_date,
                note=_note(visit),
                given_on=_visit_day(visit),
            )
            for patient_id in _profiles(session, visit.person_id)
        ]
    done = sync_imported_re_exams(
        session, source_ref(visit.facility_code, visit.visit_key), wanted, source=SOURCE, now=now
    )
    if done.created or done.cancelled:
        log.info(
            "emr re-exams of visit %s: %d created, %d cancelled, %d kept",
            visit.id,
            len(done.created),
            len(done.cancelled),
            len(done.kept),
        )
    return done


def sync_visits(session: Session, visit_ids: Sequence[int], now: dt.datetime) -> ReExamSync:
    """:func:`sync_visit` for a batch of stored visits (what an import stores at once), with a few look-ups for
    the whole batch telling apart the visits that have nothing to do: a current first version without a slip
    date (most of a batch), or one that would remind nobody (no henkham hospital, cancelled, or a person without
    a booking profile and without merges) while no live re-exam carries its reference (nothing to cancel)."""
    if not visit_ids:
        return ReExamSync()
    rows = session.execute(
        select(
            Visit.id,
            Visit.version,
            Visit.superseded_at,
            Visit.cancelled_at,
            Visit.hospital_id,
            Visit.person_id,
            Visit.facility_code,
            Visit.visit_key,
            ReExamSlip.due_date,
        )
        .outerjoin(ReExamSlip, ReExamSlip.visit_id == Visit.id)
        .where(Visit.id.in_(list(visit_ids)))
        .order_by(Visit.id)
    ).all()
    todo = [row for row in rows if row.due_date is not None or row.version > 1 or row.superseded_at is not None]
    first = [row for row in todo if row.version == 1 and row.superseded_at is None]  # the visit decides alone
    if first:
        reminding = {row.person_id for row in first if row.hospital_id is not None and row.cancelled_at is None}
        with_profiles = _persons_with_profiles_or_merges(session, reminding)
        refs = {source_ref(row.facility_code, row.visit_key) for row in first}
        live = set(
            session.scalars(
                select(ReExam.source_ref).where(ReExam.source_ref.in_(sorted(refs)), ReExam.cancelled_at.is_(None))
            )
        )
        idle = {
            row.id
            for row in first
            if row.person_id not in with_profiles and source_ref(row.facility_code, row.visit_key) not in live
        }
        todo = [row for row in todo if row.id not in idle]
    created: list[int] = []
    cancelled: list[int] = []
    kept: list[int] = []
    for row in todo:
        done = sync_visit(session, row.id, now)
        created += done.created
        cancelled += done.cancelled
        kept += done.kept
    return ReExamSync(tuple(created), tuple(cancelled), tuple(kept))


def _persons_with_profiles_or_merges(session: Session, person_ids: set[int]) -> set[int]:
    """Those of ``person_ids`` with a booking profile linked, merged into another or with another merged into
    them (for the others :func:`_profiles` is empty: nobody to remind)."""
    if not person_ids:
        return set()
    ids = sorted(person_ids)
    found = set(session.scalars(select(ProfileLink.person_id).where(ProfileLink.person_id.in_(ids))))
    found |= set(session.scalars(select(Person.id).where(Person.id.in_(ids), Person.merged_into_id.is_not(None))))
    found |= set(session.scalars(select(Person.merged_into_id).where(Person.merged_into_id.in_(ids))))
    return found


def sync_person(session: Session, person_id: int, now: dt.datetime) -> int:
    """Sync every current visit with a slip of the person (and of the persons merged into it), e.g. once a
    booking profile is linked to it; returns how many re-exam rows were created."""
    persons = _same_persons(session, person_id)
    visit_ids = session.scalars(
        select(Visit.id)
        .join(ReExamSlip, ReExamSlip.visit_id == Visit.id)
        .where(Visit.person_id.in_(persons), Visit.superseded_at.is_(None))
        .order_by(Visit.id)
    ).all()
    return sum(len(sync_visit(session, visit_id, now).created) for visit_id in visit_ids)


def _profiles(session: Session, person_id: int) -> list[int]:
    """The booking profiles linked to the person, to the person it was merged into, or to one merged into it."""
    persons = _same_persons(session, person_id)
    return list(
        session.scalars(
            select(ProfileLink.patient_id).where(ProfileLink.person_id.in_(persons)).order_by(ProfileLink.patient_id)
        )
    )


def _same_persons(session: Session, person_id: int) -> set[int]:
    """The person, the one it is merged into (following the chain) and the persons merged into any of them."""
    chain = {person_id}
    current: int | None = person_id
    while current is not None:
        current = session.scalar(select(Person.merged_into_id).where(Person.id == current))
        if current is None or current in chain:
            break
        chain.add(current)
    merged = set(session.scalars(select(Person.id).where(Person.merged_into_id.in_(chain))))
    return chain | merged


def _department(session: Session, hospital_id: int, codes: str) -> int | None:
    """The hospital's department whose HIS codes hold the visit's MA_KHOA, trying its last department first (the
    one the patient left from, who asked for the re-exam); None when none matches."""
    visit_codes = [code.strip().upper() for code in codes.split(";") if code.strip()]
    if not visit_codes:
        return None
    by_code: dict[str, int] = {}
    rows = session.execute(
        select(Department.id, Department.his_codes).where(
            Department.hospital_id == hospital_id, Department.his_codes != ""
        )
    )
    for department_id, his_codes in rows:
        for code in his_codes.split(";"):
            by_code.setdefault(code.strip().upper(), department_id)
    return next((by_code[code] for code in reversed(visit_codes) if code in by_code), None)


def _visit_day(visit: Row) -> dt.date | None:
    """The local day the visit ended (the day the slip was given)."""
    at = visit.discharged_at or visit.arrived_at or visit.admitted_at
    if at is not None:
        return to_local(at).date()
    return visit.issued_on


_ICD10_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])[A-Z]\d{2}(?:\.\d{1,4})?(?![0-9])")


def _note(visit: Row) -> str:
    """The slip's diagnosis as the reminder's note (the doctor's words), unless chat never shows it (an excluded
    code or word, core/emr/exclusions.py's defaults): the reminder, a chat or ZNS message, then gives the date
    only."""
    text = visit.diagnosis or ""
    rules = Exclusions()
    codes = [visit.principal_code or "", *_ICD10_IN_TEXT.findall(text)]
    if any(rules.code_excluded(code) for code in codes) or rules.names_excluded(text):
        return ""
    return text


# A visit version and its slip (the slip's columns None when it has none).
_VISIT = select(
    Visit.id,
    Visit.facility_code,
    Visit.visit_key,
    Visit.version,
    Visit.person_id,
    Visit.hospital_id,
    Visit.departments,
    Visit.arrived_at,
    Visit.admitted_at,
    Visit.discharged_at,
    Visit.superseded_at,
    Visit.cancelled_at,
    ReExamSlip.due_date,
    ReExamSlip.diagnosis,
    ReExamSlip.principal_code,
    ReExamSlip.issued_on,
).outerjoin(ReExamSlip, ReExamSlip.visit_id == Visit.id)
