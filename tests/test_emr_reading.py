"""The audited read service: a person's whole record exactly as imported, newest first, across hospitals; one
audit row per read; no anonymous reads; a confined reader sees only persons who visited its hospital."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select, update

from core.audit import AccessAudit, Actor
from core.booking.models import Hospital
from core.emr import models as m
from core.emr.importing import import_records, store_person_records
from core.emr.reading import AnonymousRead, person_record, visit_versions
from core.emr.records import Allergy, Immunization, PersonRecord, Section
from core.errors import NotFound
from core.tenancy import OtherHospital
from core.uow import Database
from tests.conftest import NOW
from tests.emr_records import identity, visit
from tests.factories import add_hospital

HIS = Actor(kind="api_client", client_id=7, client_name="his-bv-tinh")


def confined(db: Database, slug: str) -> Actor:
    with db.uow() as uow:
        hospital = uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))
    return dataclasses.replace(HIS, client_id=8, client_name=f"his-{slug}", hospital_id=hospital)


def person_of(db: Database, visit_key: str) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(m.Visit.person_id).where(m.Visit.visit_key == visit_key))


def audit_rows(db: Database) -> list:
    with db.uow() as uow:
        return list(uow.session.execute(select(AccessAudit.__table__).order_by(AccessAudit.id)))


def read(db: Database, person_id: int, reader: Actor | None = HIS, purpose: str = "treatment"):
    with db.reader() as uow:
        return person_record(uow, person_id, reader=reader, purpose=purpose)


@pytest.fixture
def two_hospitals(db, world):
    add_hospital(db)  # "other", facility 88888
    return db


def test_a_persons_record_reads_back_exactly_as_imported_newest_first_across_hospitals(two_hospitals):
    db = two_hospitals
    at_test = [visit(n, person=3, facility_code="99999") for n in (5, 11, 30)]
    at_other = [visit(n, person=3, facility_code="88888") for n in (7, 40)]
    import_records(db, at_test, channel="cli", now=NOW)
    import_records(db, at_other, channel="cli", now=NOW)
    import_records(db, [visit(n, person=4) for n in (6, 8)], channel="cli", now=NOW)  # someone else

    stored = read(db, person_of(db, at_test[0].visit_key))

    expected = sorted([*at_test, *at_other], key=lambda v: v.arrived_at, reverse=True)
    assert [v.visit_key for v in stored.record.visits] == [v.visit_key for v in expected]
    for got, want in zip(stored.record.visits, expected, strict=True):
        for field in dataclasses.fields(want):
            assert getattr(got, field.name) == getattr(want, field.name), f"{want.visit_key}.{field.name}"
        assert got == want
    assert [meta.facility_code for meta in stored.visits] == [v.facility_code for v in expected]
    assert {meta.hospital_id for meta in stored.visits} == stored.hospital_ids and len(stored.hospital_ids) == 2
    assert all(meta.version == 1 and meta.imported_at == NOW for meta in stored.visits)
    assert stored.record.identity.full_name == identity(3).full_name
    assert stored.record.identity.cccd == identity(3).cccd


def test_every_read_writes_one_audit_row_with_reader_person_purpose_channel_and_what(db):
    import_records(db, [visit(n, person=2) for n in (1, 2)], channel="cli", now=NOW)
    person_id = person_of(db, visit(1).visit_key)

    first = read(db, person_id, purpose="khám bệnh")
    read(db, person_id, purpose="tra cứu")

    rows = audit_rows(db)
    assert len(rows) == 2
    row = rows[0]
    assert (row.actor_kind, row.actor_id, row.actor_name) == ("api_client", 7, "his-bv-tinh")
    assert (row.record_kind, row.record_id, row.purpose, row.channel) == (
        "emr_person",
        str(person_id),
        "khám bệnh",
        "api",
    )
    assert row.detail.startswith(f"visits={','.join(str(i) for i in first.visit_ids)};")
    assert rows[1].purpose == "tra cứu"


def test_a_read_without_a_reader_is_refused_and_leaves_no_row(db):
    import_records(db, [visit(1)], channel="cli", now=NOW)
    with pytest.raises(AnonymousRead) as refused:
        read(db, person_of(db, visit(1).visit_key), reader=None)
    assert refused.value.code == "forbidden"
    assert audit_rows(db) == []


def test_a_confined_reader_sees_only_persons_who_visited_its_hospital_and_then_their_whole_record(two_hospitals):
    db = two_hospitals
    import_records(db, [visit(1, person=1, facility_code="99999")], channel="cli", now=NOW)
    import_records(db, [visit(2, person=1, facility_code="88888")], channel="cli", now=NOW)
    import_records(db, [visit(3, person=2, facility_code="99999")], channel="cli", now=NOW)
    both, only_test = person_of(db, visit(1).visit_key), person_of(db, visit(3).visit_key)

    with pytest.raises(OtherHospital):
        read(db, only_test, reader=confined(db, "other"))
    seen = read(db, both, reader=confined(db, "other"))
    assert {v.facility_code for v in seen.record.visits} == {"99999", "88888"}, "the exchange across hospitals"
    assert [row.actor_name for row in audit_rows(db)] == ["his-other"], "only the read that happened is audited"


def test_an_unknown_person_is_not_found(db):
    with pytest.raises(NotFound):
        read(db, 999_999)


def test_superseded_and_cancelled_versions_are_not_in_the_record_but_every_version_can_be_listed(db):
    import_records(db, [visit(1, person=6), visit(2, person=6)], channel="cli", now=NOW)
    fixed = visit(1, person=6, revision=1)
    import_records(db, [fixed], channel="cli", now=NOW)
    with db.uow() as uow:
        uow.session.execute(update(m.Visit).where(m.Visit.visit_key == visit(2).visit_key).values(cancelled_at=NOW))
        uow.commit()

    stored = read(db, person_of(db, fixed.visit_key))
    assert stored.record.visits == (fixed,)

    with db.reader() as uow:
        versions = visit_versions(uow, "99999", fixed.visit_key, reader=HIS, purpose="audit")
    assert [v.meta.version for v in versions] == [1, 2]
    assert [v.record for v in versions] == [visit(1, person=6), fixed]
    assert versions[0].superseded_at is not None and versions[1].superseded_at is None
    last = audit_rows(db)[-1]
    assert (last.record_kind, last.purpose) == ("emr_visit", "audit")
    assert last.detail == f"versions={versions[0].meta.visit_id},{versions[1].meta.visit_id}"
    with db.reader() as uow, pytest.raises(AnonymousRead):
        visit_versions(uow, "99999", fixed.visit_key, reader=None, purpose="audit")


def test_a_merged_person_reads_as_the_one_it_was_merged_into(db):
    import_records(db, [visit(1, person=8), visit(2, person=9)], channel="cli", now=NOW)
    kept, merged = person_of(db, visit(1).visit_key), person_of(db, visit(2).visit_key)
    with db.uow() as uow:
        uow.session.execute(update(m.Person).where(m.Person.id == merged).values(merged_into_id=kept))
        uow.commit()

    via_merged = read(db, merged)
    via_kept = read(db, kept)

    assert via_merged.person_id == kept and via_merged.merged_ids == (merged,)
    assert {v.visit_key for v in via_kept.record.visits} == {visit(1).visit_key, visit(2).visit_key}
    assert via_merged.record == via_kept.record
    assert audit_rows(db)[0].record_id == str(kept)


def test_immunizations_allergies_and_none_known_sections_read_back(db):
    shot = Immunization("urn:tcmr|IM-9", "Vắc xin Uốn ván", dt.date(2024, 5, 2), "TT", "http://snomed.info/sct", "2")
    allergy = Allergy("urn:bv|AL-9", "Aspirin", "1191", "http://www.nlm.nih.gov/rxnorm", "Khó thở", "high")
    store_person_records(
        db,
        [
            PersonRecord(
                identity(12),
                visits=(visit(50, person=12),),
                immunizations=(shot,),
                allergies=(allergy,),
                none_known=frozenset({Section.MEDICATIONS, Section.PROBLEMS}),
            )
        ],
        channel="api",
        now=NOW,
    )
    stored = read(db, person_of(db, visit(50).visit_key))
    assert stored.record.immunizations == (shot,)
    assert stored.record.allergies == (allergy,)
    assert stored.record.none_known == frozenset({Section.MEDICATIONS, Section.PROBLEMS})
    assert stored.record.visits == (visit(50, person=12),)
