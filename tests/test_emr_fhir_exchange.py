"""The FHIR round trip between two deployments (issue 13, acceptance 5): visits imported into one database,
the person exported as a FHIR R4 Bundle, that Bundle imported into an EMPTY second database, and the two
records compared field by field — diagnoses, medications, results, immunizations, allergies, re-exam dates and
every other field of the visits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from core.audit import Actor
from core.emr import models as m
from core.emr.fhir import export_bundle, export_patient_summary
from core.emr.importing import import_bytes, import_records, store_person_records
from core.emr.reading import StoredRecord, person_record
from core.emr.records import Allergy, Immunization, PersonRecord, Section, VisitRecord
from core.uow import Database
from henkham.migrate import upgrade
from tests.conftest import NOW, opened, throwaway_postgres
from tests.emr_records import identity, visit
from tests.factories import add_hospital

HIS = Actor(kind="api_client", client_id=7, client_name="his-so-y-te")
PERSON = 3


@contextmanager
def empty_database(database_url: str, tmp_path) -> Iterator[Database]:
    """A second, migrated and empty database of the same kind as the test's own."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'second.db'}"
        upgrade(url)
        with opened(url, pool_size=2, max_overflow=2) as database:
            yield database
        return
    with throwaway_postgres() as url, opened(url, pool_size=2, max_overflow=2) as database:
        yield database


def read(db: Database, visit_key: str) -> StoredRecord:
    with db.uow() as uow:
        person_id = uow.session.scalar(select(m.Visit.person_id).where(m.Visit.visit_key == visit_key).limit(1))
    with db.reader() as uow:
        return person_record(uow, person_id, reader=HIS, purpose="exchange")


def assert_same_visits(got: tuple[VisitRecord, ...], want: tuple[VisitRecord, ...]) -> None:
    assert [(v.facility_code, v.visit_key) for v in got] == [(v.facility_code, v.visit_key) for v in want]
    for a, b in zip(got, want, strict=True):
        for field in dataclasses.fields(VisitRecord):
            assert getattr(a, field.name) == getattr(b, field.name), f"{b.visit_key}.{field.name}"


@pytest.fixture
def first(db, world) -> Database:
    """The first deployment: two hospitals' visits of one person, and the registry's immunizations."""
    add_hospital(db)  # "other", facility 88888
    import_records(db, [visit(n, person=PERSON, facility_code="99999") for n in (5, 11, 30)], channel="cli", now=NOW)
    import_records(db, [visit(n, person=PERSON, facility_code="88888") for n in (7, 40)], channel="cli", now=NOW)
    import_records(db, [visit(n, person=4) for n in (6, 8)], channel="cli", now=NOW)  # someone else
    registry = PersonRecord(
        identity=identity(PERSON),
        immunizations=(
            Immunization(
                "urn:vn:tcqg|MT-1",
                "Vắc xin viêm gan B",
                dt.date(1995, 5, 2),
                vaccine_code="HepB",
                vaccine_system="urn:vn:tcqg:vaccine",
                dose_number="1",
                facility_code="99999",
            ),
            Immunization("urn:vn:tcqg|MT-2", "Vắc xin sởi - rubella", dt.date(1996, 1, 9), dose_number="2"),
        ),
        allergies=(
            Allergy(
                "urn:vn:99999|DU-7",
                "Penicillin",
                code="764146007",
                code_system="http://snomed.info/sct",
                reaction="Nổi mề đay",
                criticality="high",
                recorded_on=dt.date(2021, 4, 1),
            ),
        ),
        none_known=frozenset({Section.MEDICATIONS}),
    )
    report = store_person_records(db, [registry], channel="cli", now=NOW)
    assert report.ok and report.immunizations == 2
    return db


def test_a_person_exported_from_one_database_imports_whole_into_an_empty_one(first, database_url, tmp_path):
    source = read(first, visit(5).visit_key)
    assert len(source.record.visits) == 5 and len(source.record.immunizations) == 2  # what is about to travel
    bundle = json.dumps(export_bundle(source), ensure_ascii=False).encode()

    with empty_database(database_url, tmp_path) as second:
        report = import_bytes(second, bundle, channel="cli", filename="person.fhir.json", now=NOW)
        assert report.ok, report.as_dict()
        assert (report.imported, report.immunizations, report.allergies) == (5, 2, 1)
        target = read(second, visit(5).visit_key)
        again = import_bytes(second, bundle, channel="cli", now=NOW)  # the same Bundle twice changes nothing
        assert (again.imported, again.unchanged) == (0, 5)

    got, want = target.record, source.record
    assert_same_visits(got.visits, want.visits)
    for a, b in zip(got.visits, want.visits, strict=True):  # what acceptance 5 names, said once more
        assert (a.diagnoses, a.medications, a.results) == (b.diagnoses, b.medications, b.results)
        assert (a.re_exam_dates, a.re_exam) == (b.re_exam_dates, b.re_exam)
    assert got.immunizations == want.immunizations
    assert got.allergies == want.allergies
    assert got.none_known == want.none_known
    assert got.identity == want.identity
    assert got == want


def test_the_patient_summary_of_a_stored_person_imports_too(first, database_url, tmp_path):
    source = read(first, visit(5).visit_key)
    summary = json.dumps(export_patient_summary(source, now=NOW), ensure_ascii=False).encode()

    with empty_database(database_url, tmp_path) as second:
        report = import_bytes(second, summary, channel="cli", now=NOW)
        assert report.ok, report.as_dict()
        target = read(second, visit(5).visit_key)

    assert_same_visits(target.record.visits, source.record.visits)
    assert target.record.immunizations == source.record.immunizations
    assert target.record.allergies == source.record.allergies
