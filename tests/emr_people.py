"""Visits of the master patient index's tests, stored the way the importer stores them: the person resolved by
core.emr.persons.resolve_person inside the visit's SAVEPOINT (retried once on IntegrityError), then the visit row.
(Until the importer of core/emr/importing.py is used here, a visit row is the least the index needs.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit import Actor
from core.booking.models import Hospital
from core.emr.importing import import_bytes
from core.emr.models import Person, PersonMatch, Visit
from core.emr.persons import resolve_person
from core.emr.records import Identity
from core.uow import Database
from tests import emr_his_files as his

NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
TEST, OTHER = "99999", "88888"  # facility codes of tests/factories' "test" and "other" hospitals
CCCD = "079185001234"  # 079 (Hồ Chí Minh), 1 (1900s, female), 85 (1985)
CARD = "DN4797912345678"  # a 15-character BHYT card: social-insurance number 7912345678
_keys = itertools.count(1)
retried: list[str] = []  # the visit keys retried after an IntegrityError (a concurrent import won the race)


def mai(**changes: object) -> Identity:
    """Trần Thị Mai, born 12/03/1985, female, with her CCCD and card (``changes`` override)."""
    data: dict = {
        "full_name": "Trần Thị Mai",
        "birth_year": 1985,
        "birth_month": 3,
        "birth_day": 12,
        "sex": "female",
        "cccd": CCCD,
        "insurance_cards": (CARD,),
        "his_patient_code": "BN001",
        "phone": "+84912345678",
    }
    data.update(changes)
    return Identity(**data)


def store_visit_in(session: Session, identity: Identity, *, facility: str, key: str, now: dt.datetime) -> int:
    """Resolve the person and add the visit in a SAVEPOINT, retried once as the importer does; the person id."""
    hospital_id = session.scalar(select(Hospital.id).where(Hospital.facility_code == facility))
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                person_id = resolve_person(session, identity, facility_code=facility, now=now)
                session.add(
                    Visit(
                        person_id=person_id,
                        facility_code=facility,
                        hospital_id=hospital_id,
                        visit_key=key,
                        content_hash="0" * 64,
                        source="xml130",
                        identity=dataclasses.asdict(identity),
                        kind="outpatient",
                        arrived_at=now,
                        imported_at=now,
                    )
                )
            return person_id
        except IntegrityError:
            if attempt == 2:
                raise
            retried.append(key)
    raise AssertionError("unreachable")


def store_visit(
    db: Database, identity: Identity, *, facility: str = TEST, key: str = "", now: dt.datetime = NOW
) -> int:
    with db.uow() as uow:
        person_id = store_visit_in(uow.session, identity, facility=facility, key=key or f"LK{next(_keys)}", now=now)
        uow.commit()
    return person_id


def persons(db: Database) -> int:
    """How many persons are not merged into another."""
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(Person).where(Person.merged_into_id.is_(None)))


def matches_of(db: Database) -> list[tuple[int, int, str, str]]:
    """(person, other, kind, status) of every match."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(PersonMatch.person_id, PersonMatch.other_person_id, PersonMatch.kind, PersonMatch.status).order_by(
                PersonMatch.id
            )
        ).all()
    return [tuple(row) for row in rows]


def visits_of(db: Database, person_id: int) -> list[tuple[str, str]]:
    """(facility code, visit key) of the person's visits."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(Visit.facility_code, Visit.visit_key).where(Visit.person_id == person_id).order_by(Visit.id)
        ).all()
    return [tuple(row) for row in rows]


# --- real submission files (tests/emr_his_files.py) through the importer --------------------------------------

AN = {"name": "Nguyễn Văn An", "cccd": "079085012345", "birth": "198503140000", "sex": "1"}  # the builder's patient
READER = Actor(kind="api_client", client_id=1, client_name="records-office")


def imported(db, facility: str, *visits: his.Visit) -> None:
    data = his.submission_bytes([v.with_(facility_code=facility) for v in visits], facility_code=facility)
    report = import_bytes(db, data, channel="cli", filename="kcb.xml", now=NOW)
    assert report.ok, report.as_dict()


def person_of(db, visit_key: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Visit.person_id).where(Visit.visit_key == visit_key))
