"""The master patient index (core/emr/persons.py): one person across the hospitals of the province, by CCCD,
then the social-insurance number, then the facility's patient code; conflicts and namesakes kept apart and
listed, never merged by themselves. Booking profiles link to the person (core/emr/profiles.py)."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select, text

from core.emr.models import Person, PersonIdentifier, ProfileLink
from core.emr.persons import name_key, resolve_person
from core.emr.profiles import link_patient, link_profiles
from core.emr.reading import person_record
from tests import emr_his_files as his
from tests.emr_people import (
    AN,
    CARD,
    CCCD,
    NOW,
    OTHER,
    READER,
    TEST,
    imported,
    mai,
    matches_of,
    person_of,
    persons,
    store_visit,
    visits_of,
)
from tests.factories import add_hospital, build_world, new_patient, today_local
from tests.harness import wait_until


@pytest.fixture
def province(db):
    """Two hospitals of the province: "test" (facility 99999) and "other" (88888)."""
    world = build_world(db, start=today_local(), days=1)
    add_hospital(db, "other")
    return world


def identifiers_of(db, person_id: int) -> set[tuple[str, str, str]]:
    with db.reader() as uow:
        rows = uow.session.execute(
            select(PersonIdentifier.kind, PersonIdentifier.facility_code, PersonIdentifier.value).where(
                PersonIdentifier.person_id == person_id
            )
        ).all()
    return {tuple(r) for r in rows}


def person(db, person_id: int) -> Person:
    with db.reader() as uow:
        found = uow.session.get(Person, person_id)
        uow.session.expunge(found)
        return found


def test_the_same_cccd_at_two_hospitals_is_one_person_with_the_visits_of_both(db, province):
    first = store_visit(db, mai(his_patient_code="BN001"), facility=TEST)
    second = store_visit(db, mai(his_patient_code="A-77", insurance_cards=()), facility=OTHER)
    assert second == first
    assert persons(db) == 1
    assert [facility for facility, _ in visits_of(db, first)] == [TEST, OTHER]
    assert identifiers_of(db, first) == {
        ("cccd", "", CCCD),
        ("sin", "", CARD[-10:]),
        ("his", TEST, "BN001"),
        ("his", OTHER, "A-77"),
    }
    assert matches_of(db) == []


def test_a_conflicting_birth_date_is_kept_apart_and_listed(db, province):
    holder = store_visit(db, mai(), facility=TEST)
    swapped = mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code="X9")  # day and month swapped
    other = store_visit(db, swapped, facility=OTHER)
    assert other != holder and persons(db) == 2
    assert matches_of(db) == [(holder, other, "cccd_conflict", "open")]
    assert ("cccd", "", CCCD) not in identifiers_of(db, other)  # the CCCD stays claimed by its holder
    assert (person(db, other).birth_month, person(db, other).birth_day) == (12, 3)
    # the same mistake again goes to the same second person: one extra person and one match, not one per visit
    assert store_visit(db, swapped, facility=OTHER) == other
    assert persons(db) == 2 and len(matches_of(db)) == 1
    # the holder's own visits still go to the holder
    assert store_visit(db, mai(), facility=OTHER) == holder


def test_a_different_sex_with_the_same_cccd_is_a_conflict(db, province):
    holder = store_visit(db, mai())
    other = store_visit(db, mai(sex="male", insurance_cards=(), his_patient_code=""), facility=OTHER)
    assert other != holder
    assert matches_of(db) == [(holder, other, "cccd_conflict", "open")]


def test_a_name_birth_date_and_sex_match_is_a_candidate_never_a_merge(db, province):
    known = store_visit(db, mai())
    # no CCCD, no card, another facility's patient code; the name written without diacritics
    namesake = store_visit(
        db, mai(full_name="TRAN THI  MAI", cccd=None, insurance_cards=(), his_patient_code="Z1"), facility=OTHER
    )
    assert namesake != known and persons(db) == 2
    assert matches_of(db) == [(known, namesake, "candidate", "open")]
    assert visits_of(db, known) and visits_of(db, namesake)  # each keeps its own visit


def test_a_different_birth_date_or_sex_is_no_candidate(db, province):
    store_visit(db, mai())
    store_visit(db, mai(cccd=None, insurance_cards=(), his_patient_code="", birth_year=1986), facility=OTHER)
    store_visit(db, mai(cccd=None, insurance_cards=(), his_patient_code="", sex="male"), facility=OTHER)
    assert persons(db) == 3 and matches_of(db) == []


def test_the_same_card_with_a_different_name_is_a_conflict(db, province):
    holder = store_visit(db, mai(cccd=None))
    other = store_visit(db, mai(cccd=None, full_name="Trần Thị Lan", his_patient_code="Q5"), facility=OTHER)
    assert other != holder
    assert matches_of(db) == [(holder, other, "card_conflict", "open")]
    assert ("sin", "", CARD[-10:]) not in identifiers_of(db, other)


def test_the_same_social_insurance_number_in_another_card_form_is_the_same_person(db, province):
    holder = store_visit(db, mai(cccd=None))
    # the card reissued with another beneficiary group; the bare 10-digit number at the other hospital
    assert store_visit(db, mai(cccd=None, insurance_cards=("HT2797912345678",))) == holder
    assert store_visit(db, mai(cccd=None, insurance_cards=(CARD[-10:],), his_patient_code=""), facility=OTHER) == holder
    # a later visit with the CCCD: the card's holder is the person, and now holds the CCCD too
    assert store_visit(db, mai(his_patient_code=""), facility=OTHER) == holder
    assert ("cccd", "", CCCD) in identifiers_of(db, holder)
    assert persons(db) == 1 and matches_of(db) == []


def test_a_card_that_is_a_cccd_counts_as_the_cccd(db, province):
    holder = store_visit(db, mai(insurance_cards=()))
    assert store_visit(db, mai(cccd=None, insurance_cards=(CCCD,), his_patient_code=""), facility=OTHER) == holder


def test_a_nine_digit_cmnd_is_not_a_national_id(db, province):
    first = store_visit(db, mai(cccd="025123456", insurance_cards=(), his_patient_code=""))
    stranger = mai(
        full_name="Lê Văn Hùng", sex="male", birth_year=1970, cccd="025123456", insurance_cards=(), his_patient_code=""
    )
    second = store_visit(db, stranger, facility=OTHER)
    assert second != first and matches_of(db) == []
    assert identifiers_of(db, first) == set()


def test_the_facility_patient_code_links_within_its_facility_only(db, province):
    first = store_visit(db, mai(cccd=None, insurance_cards=(), his_patient_code="BN42"), facility=TEST)
    assert store_visit(db, mai(cccd=None, insurance_cards=(), his_patient_code="BN42"), facility=TEST) == first
    elsewhere = mai(full_name="Phạm Văn Bình", sex="male", cccd=None, insurance_cards=(), his_patient_code="BN42")
    assert store_visit(db, elsewhere, facility=OTHER) != first  # another facility's BN42 is someone else
    # the same code at the same facility with another name: kept apart, proposed as a candidate
    renamed = store_visit(db, mai(full_name="Trần Thị Mơ", cccd=None, insurance_cards=(), his_patient_code="BN42"))
    assert renamed != first
    assert (first, renamed, "candidate", "open") in matches_of(db)


def test_birth_dates_of_different_precision_agree_and_the_person_is_completed(db, province):
    year_only = mai(birth_month=None, birth_day=None, phone=None, address="")
    holder = store_visit(db, year_only)
    assert store_visit(db, mai(address="12 Lê Lợi, Cà Mau"), facility=OTHER) == holder  # 1985 agrees with 1985-03-12
    filled = person(db, holder)
    assert (filled.birth_year, filled.birth_month, filled.birth_day) == (1985, 3, 12)
    assert filled.phone == "+84912345678" and filled.address == "12 Lê Lợi, Cà Mau"
    # a known part is never overwritten: another month is a conflict, not an update
    assert store_visit(db, mai(birth_month=4, insurance_cards=(), his_patient_code="")) != holder
    assert person(db, holder).birth_month == 3
    assert matches_of(db)[0][2:] == ("cccd_conflict", "open")


def test_a_year_only_namesake_is_a_candidate(db, province):
    known = store_visit(db, mai())
    vague = store_visit(
        db, mai(birth_month=None, birth_day=None, cccd=None, insurance_cards=(), his_patient_code=""), facility=OTHER
    )
    assert matches_of(db) == [(known, vague, "candidate", "open")]


def test_identifiers_are_logged_masked_only(db, province, caplog):
    caplog.set_level(logging.INFO, logger="core.emr.persons")
    store_visit(db, mai())
    store_visit(db, mai(birth_day=13, insurance_cards=(), his_patient_code=""), facility=OTHER)
    assert "cccd_conflict" in caplog.text and "********1234" in caplog.text
    assert CCCD not in caplog.text and CARD[-10:] not in caplog.text


def test_name_key_ignores_case_diacritics_and_spacing():
    assert name_key("  Nguyễn   Văn-Đức ") == name_key("NGUYEN VAN DUC") == "nguyen van duc"


# --- booking profiles -----------------------------------------------------------------------------------------


def test_a_booking_profile_with_the_same_cccd_links_to_the_person(db, province):
    before = new_patient(
        db,
        province.account_id,
        1,
        full_name="Trần Thị Mai",
        sex="female",
        cccd=CCCD,
        date_of_birth=NOW.date().replace(year=1985, month=3, day=12),
    )
    holder = store_visit(db, mai())
    with db.reader() as uow:  # linked by the import itself, when the person claimed the CCCD
        assert uow.session.get(ProfileLink, before).person_id == holder
    with db.uow() as uow:
        assert link_profiles(uow.session, holder, now=NOW) == [before]
        assert link_profiles(uow.session, holder, now=NOW) == [before]  # idempotent
        uow.commit()
    # a profile made after the import links when it is created (core/booking/patients.py)
    after = new_patient(db, province.account_id, 2, insurance_number="HN4797912345678")
    with db.reader() as uow:
        links = dict(uow.session.execute(select(ProfileLink.patient_id, ProfileLink.matched_by)).all())
    assert links == {before: "cccd", after: "sin"}
    unrelated = new_patient(db, province.account_id, 3, insurance_number="DN4790000000001")
    with db.uow() as uow:
        assert link_patient(uow.session, unrelated) is None
        assert sorted(link_profiles(uow.session, holder)) == sorted([before, after])


# --- concurrency ----------------------------------------------------------------------------------------------


@pytest.mark.postgres_only("two transactions racing for one new CCCD need a server")
def test_two_imports_creating_the_same_cccd_person_at_once_make_one_person(db, province):
    """The first import has created the person (not committed yet); the second one's identifier INSERT waits
    on it, fails with IntegrityError when it commits, and the retried visit finds the person."""
    from tests.emr_people import retried, store_visit_in

    retried.clear()
    results: dict[str, int] = {}
    errors: list[BaseException] = []
    first_flushed = threading.Event()
    release_first = threading.Event()

    def first() -> None:
        try:
            with db.uow() as uow:
                results["first"] = store_visit_in(uow.session, mai(), facility=TEST, key="LK-A", now=NOW)
                uow.session.flush()
                first_flushed.set()
                release_first.wait(timeout=30)
                uow.commit()
        except BaseException as error:
            errors.append(error)
            first_flushed.set()

    def second() -> None:
        try:
            with db.uow() as uow:
                results["second"] = store_visit_in(uow.session, mai(), facility=OTHER, key="LK-B", now=NOW)
                uow.commit()
        except BaseException as error:
            errors.append(error)

    one = threading.Thread(target=first)
    one.start()
    wait_until(first_flushed.is_set, timeout=20, what="the first import created its person")
    two = threading.Thread(target=second)
    two.start()

    def second_waits() -> bool:
        with db.engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                )
            )

    wait_until(second_waits, timeout=20, what="the second import waits on the first one's CCCD")
    release_first.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert not errors, errors
    assert retried == ["LK-B"]  # the second visit lost the race once and was retried
    assert results["first"] == results["second"]
    assert persons(db) == 1
    assert sorted(f for f, _ in visits_of(db, results["first"])) == [OTHER, TEST]
    assert matches_of(db) == []


def test_resolve_person_adds_nothing_to_commit_by_itself(db, province):
    with db.uow() as uow:
        resolve_person(uow.session, mai(), facility_code=TEST, now=NOW)
    assert persons(db) == 0


# --- real submission files (tests/emr_his_files.py) through the importer ------------------------------------------


def record_facilities(db, person_id: int) -> list[str]:
    with db.reader() as uow:
        stored = person_record(uow, person_id, reader=READER, purpose="acceptance")
    return sorted(v.facility_code for v in stored.record.visits)


def test_imported_files_of_two_hospitals_form_one_record_and_keep_conflicts_and_namesakes_apart(db, province):
    imported(db, TEST, his.outpatient(ma_lk="A1", patient_code="BN-A"))
    # an inpatient stay of the same man at the other hospital: its own patient code, no card this time
    imported(db, OTHER, his.inpatient(ma_lk="B1", patient_code="NT-77", cards="", **AN))
    an = person_of(db, "A1")
    assert person_of(db, "B1") == an and persons(db) == 1
    assert record_facilities(db, an) == [OTHER, TEST]  # one record with the visits of both hospitals
    # the same CCCD with another birth date: not merged, listed
    imported(db, OTHER, his.outpatient(ma_lk="B2", patient_code="NT-78", cards="", birth="198512030000"))
    conflicting = person_of(db, "B2")
    assert conflicting != an and record_facilities(db, an) == [OTHER, TEST]
    assert matches_of(db) == [(an, conflicting, "cccd_conflict", "open")]
    # no CCCD, no card: the same name, birth date and sex is a candidate, never a merge
    imported(db, OTHER, his.outpatient(ma_lk="B3", patient_code="NT-79", cccd="", cards=""))
    namesake = person_of(db, "B3")
    assert namesake not in (an, conflicting)
    assert matches_of(db)[1:] == [(an, namesake, "candidate", "open")]
    # the same file again changes nothing
    imported(db, OTHER, his.outpatient(ma_lk="B3", patient_code="NT-79", cccd="", cards=""))
    assert persons(db) == 3 and len(matches_of(db)) == 2


def test_an_imported_card_with_another_name_is_a_card_conflict(db, province):
    imported(db, TEST, his.outpatient(ma_lk="A1", cccd=""))
    imported(db, OTHER, his.outpatient(ma_lk="B1", cccd="", patient_code="X", name="Nguyễn Văn Ân Hai"))
    assert matches_of(db) == [(person_of(db, "A1"), person_of(db, "B1"), "card_conflict", "open")]


def test_a_booking_profile_made_before_the_import_links_through_the_import(db, province):
    import datetime as dt

    patient = new_patient(
        db, province.account_id, 5, full_name="Nguyễn Văn An", date_of_birth=dt.date(1985, 3, 14), cccd=AN["cccd"]
    )
    imported(db, TEST, his.outpatient(ma_lk="A1"))
    with db.reader() as uow:
        link = uow.session.get(ProfileLink, patient)
    assert link is not None and link.person_id == person_of(db, "A1") and link.matched_by == "cccd"


def test_a_cccd_with_a_unicode_digit_is_no_national_id():
    """ "²" passes str.isdigit(); a CCCD is 12 ASCII digits, else the visit is matched by its other identifiers."""
    from core.emr.persons import national_id
    from core.emr.records import Identity

    assert national_id(Identity(full_name="A", cccd="079190001234")) == "079190001234"
    assert national_id(Identity(full_name="A", cccd="07919000123²")) is None
