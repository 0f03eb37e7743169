"""The record access audit for records staff (core/emr/record_reads.py) and import reports
(core/emr/import_reports.py): found by every kind of identifier, merged persons' reads included, confined to
the hospital; a file shared by two hospitals shows each only its own items and counts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import Actor
from core.booking.models import Hospital
from core.emr import import_reports, record_reads
from core.emr.importing import create_import, store_parsed
from core.emr.models import PersonMatch
from core.emr.reading import person_record
from core.emr.records import ParsedFile, ParsedVisit
from core.errors import InvalidInput, NotFound
from core.tenancy import OtherHospital
from tests.emr_people import CARD, CCCD, NOW, OTHER, TEST, mai, store_visit
from tests.emr_records import visits
from tests.factories import add_hospital


@pytest.fixture
def province(db, world):
    add_hospital(db, "other")
    return world


def hospital_id(db, slug: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))


def read(db, person_id: int, who: str = "his-gateway") -> None:
    with db.reader() as uow:
        person_record(uow, person_id, reader=Actor(kind="api_client", client_id=3, client_name=who), purpose="x")


def test_a_person_is_found_by_cccd_card_number_masked_digits_or_number(db, province):
    person_id = store_visit(db, mai(), facility=TEST)
    test, other = hospital_id(db, "test"), hospital_id(db, "other")
    with db.reader() as uow:
        for query in (CCCD, CARD, CARD[-10:], "****1234", "…5678", f"#{person_id}", "079 185 001 234"):
            assert [h.id for h in record_reads.find_persons(uow, test, query)] == [person_id], query
        [hit] = record_reads.find_persons(uow, test, CCCD)
        assert (hit.cccd, hit.social_insurance_number) == ("********1234", "******5678")
        with pytest.raises(InvalidInput):
            record_reads.find_persons(uow, test, "Trần Thị Mai")
        with pytest.raises(NotFound):
            record_reads.find_persons(uow, test, "079185009999")
        with pytest.raises(OtherHospital):
            record_reads.find_persons(uow, other, CCCD)


def test_a_persons_reads_include_those_of_the_person_merged_into_it(db, province):
    from core.emr import matches

    holder = store_visit(db, mai(), facility=TEST)
    other = store_visit(db, mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code="X9"), facility=OTHER)
    read(db, other, "before-the-merge")
    with db.uow() as uow:
        match_id = uow.session.scalar(select(PersonMatch.id))
        matches.confirm_match(uow, match_id, by="records", now=NOW)
    read(db, holder, "after-the-merge")
    test = hospital_id(db, "test")
    with db.reader() as uow:
        person, lines = record_reads.person_reads(uow, test, other)  # the merged one: its root
    assert person.id == holder
    whos = [line.who for line in lines if line.what == "Hồ sơ bệnh án"]
    assert whos == ["after-the-merge", "before-the-merge"]  # newest first
    assert {line.channel for line in lines if line.what == "Hồ sơ bệnh án"} == {"API"}


def test_the_latest_reads_are_of_the_hospitals_persons_only(db, province):
    mine = store_visit(db, mai(), facility=TEST)
    theirs = store_visit(db, mai(full_name="Lê Văn Bình", cccd="079085007777", insurance_cards=()), facility=OTHER)
    read(db, mine, "reads-mine")
    read(db, theirs, "reads-theirs")
    test = hospital_id(db, "test")
    with db.reader() as uow:
        lines = record_reads.latest_reads(uow, test)
        with pytest.raises(OtherHospital):
            record_reads.person_reads(uow, test, theirs)
    assert {(line.who, line.person_id, line.person_name) for line in lines} == {("reads-mine", mine, "Trần Thị Mai")}


def test_a_file_of_two_hospitals_shows_each_its_own_items_and_counts(db, province):
    ours, theirs = visits(3, facility_code=TEST), visits(2, start=10, facility_code=OTHER)
    parsed = ParsedFile("", tuple(ParsedVisit(v.facility_code, v.visit_key, v) for v in (*ours, *theirs)))
    import_id = create_import(db, "xml130", b"<x/>", channel="cli", filename="province.xml", now=NOW)
    store_parsed(db, parsed, import_id=import_id, now=NOW)
    test, other = hospital_id(db, "test"), hospital_id(db, "other")
    create_import(db, "xml130", b"<y/>", channel="api", filename="theirs.xml", hospital_id=other, now=NOW)
    with db.reader() as uow:
        lines, page = import_reports.list_imports(uow, test)
        line, items, _ = import_reports.import_items(uow, test, import_id)
        [with_theirs, mine_too], _ = import_reports.list_imports(uow, other)
    assert [i.filename for i in lines] == ["province.xml"] and (page.number, page.pages, page.total) == (1, 1, 1)
    assert (line.stored, line.refused, line.warnings) == (3, 0, 0)
    assert [i.facility_code for i in items] == [TEST] * 3
    assert with_theirs.filename == "theirs.xml" and (mine_too.filename, mine_too.stored) == ("province.xml", 2)
