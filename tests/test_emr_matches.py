"""Person matches for records staff (core/emr/matches.py): listed with both persons (identifiers masked), confirmed
(the two persons merged: one record with the visits of both) or rejected (kept apart, never proposed again);
through the service, `henkham emr matches` and /api/v1/emr/matches (his scope, confined to a key's hospital)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core import access
from core.audit import AccessAudit, Actor
from core.emr import matches
from core.emr.models import Person, PersonIdentifier, ProfileLink
from core.errors import Conflict, NotFound
from core.tenancy import OtherHospital
from henkham import bootstrap
from henkham.cli import cli
from henkham.web import create_app
from tests import factories
from tests.emr_people import CARD, CCCD, NOW, OTHER, TEST, mai, matches_of, persons, store_visit, visits_of
from tests.factories import add_hospital, build_world, new_patient, today_local

API = "/api/v1/emr/matches"


@pytest.fixture
def province(db):
    """Hospitals "test" (99999) and "other" (88888) of the province, and "third" (77777) with no visits."""
    world = build_world(db, start=today_local(), days=1)
    add_hospital(db, "other")
    with db.uow() as uow:
        uow.session.add(
            factories.hospital_row("third", "Bệnh viện Ba", "77777", "3 Đường Ba", "0290000002", "0290000117")
        )
        uow.commit()
    return world


def hospital_id(db, slug: str) -> int:
    from core.booking.models import Hospital

    with db.reader() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))


def conflict(db) -> tuple[int, int]:
    """Mai's CCCD at "test", then at "other" with day and month swapped: a cccd_conflict."""
    holder = store_visit(db, mai(), facility=TEST)
    other = store_visit(db, mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code="X9"), facility=OTHER)
    return holder, other


NO_IDS = {"cccd": None, "insurance_cards": ()}


def namesake(db, code: str = "Z1", **changes) -> int:
    """Mai without CCCD or card at "other": a candidate of the first Mai."""
    return store_visit(db, mai(**{**NO_IDS, "his_patient_code": code, **changes}), facility=OTHER)


def open_ids(db) -> list[int]:
    with db.reader() as uow:
        return [m.id for m in matches.list_matches(uow)]


# --- the service ----------------------------------------------------------------------------------------------


def test_the_list_shows_both_persons_masked_with_their_facilities_and_what_differs(db, province):
    holder, other = conflict(db)
    with db.reader() as uow:
        [view] = matches.list_matches(uow)
    assert (view.kind, view.status, view.person.id, view.other.id) == ("cccd_conflict", "open", holder, other)
    assert view.person.birth_date == "1985-03-12" and view.other.birth_date == "1985-12-03"
    assert view.person.cccd == view.other.cccd == "********1234"
    assert view.person.facilities == [TEST] and view.other.facilities == [OTHER]
    assert view.differs == ["birth_date"] and {"name", "sex", "cccd"} <= set(view.agrees)
    assert "differs: birth_date" in view.detail and "digits agree with: person and other" in view.detail
    shown = view.model_dump_json()
    assert CCCD not in shown and CARD[-10:] not in shown


def test_confirm_merges_the_other_person_into_the_person(db, province):
    known = store_visit(db, mai(**NO_IDS, his_patient_code="BN1"), facility=TEST)
    other = namesake(db, insurance_cards=(CARD,))  # the namesake brings the card
    patient = new_patient(db, province.account_id, 1, insurance_number=CARD)  # linked to the namesake
    with db.reader() as uow:
        assert uow.session.get(ProfileLink, patient).person_id == other
    [match_id] = open_ids(db)
    with db.uow() as uow:
        view = matches.confirm_match(uow, match_id, by="records-clerk", now=NOW)
    assert view.status == "confirmed" and view.decided_by == "records-clerk" and view.other.merged_into_id == known
    assert persons(db) == 1
    assert sorted(f for f, _ in visits_of(db, known)) == [OTHER, TEST] and visits_of(db, other) == []
    with db.reader() as uow:
        assert uow.session.get(ProfileLink, patient).person_id == known
        moved = uow.session.scalars(select(PersonIdentifier.value).where(PersonIdentifier.person_id == known)).all()
        assert set(moved) == {"BN1", "Z1", CARD[-10:]}
    # the next visits of either go to the one person
    assert namesake(db) == known
    assert store_visit(db, mai(cccd=None, his_patient_code=""), facility=OTHER) == known
    assert open_ids(db) == []


def test_confirming_a_cccd_conflict_keeps_the_persons_birth_date(db, province):
    holder, other = conflict(db)
    [match_id] = open_ids(db)
    with db.uow() as uow:
        matches.confirm_match(uow, match_id, by="clerk", now=NOW)
    with db.reader() as uow:
        kept = uow.session.get(Person, holder)
        assert (kept.birth_year, kept.birth_month, kept.birth_day) == (1985, 3, 12)
        assert uow.session.get(Person, other).merged_into_id == holder
    assert len(visits_of(db, holder)) == 2
    # the swapped date again: still the one person (through the confirmed match), no new conflict
    assert (
        store_visit(db, mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code=""), facility=OTHER)
        == holder
    )
    assert persons(db) == 1 and open_ids(db) == []


def test_confirming_a_cccd_conflict_can_keep_the_others_birth_date(db, province):
    holder, _other = conflict(db)
    [match_id] = open_ids(db)
    with db.uow() as uow:
        view = matches.confirm_match(uow, match_id, by="clerk", now=NOW, keep="other")
    assert view.person.birth_date == "1985-12-03"
    # the swapped date is the right one now: such visits go straight to the person; the old date still does too
    assert (
        store_visit(db, mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code=""), facility=OTHER)
        == holder
    )
    assert store_visit(db, mai(), facility=TEST) == holder
    assert persons(db) == 1 and open_ids(db) == []


def test_reject_keeps_them_apart_and_the_pair_is_not_proposed_again(db, province):
    known = store_visit(db, mai())
    other = namesake(db)
    [match_id] = open_ids(db)
    with db.uow() as uow:
        view = matches.reject_match(uow, match_id, by="clerk", now=NOW)
    assert view.status == "rejected"
    assert namesake(db) == other  # the namesake's own visits stay its own
    # a visit carrying the known person's CCCD and the namesake's patient code would propose the pair: not again
    assert store_visit(db, mai(insurance_cards=(), his_patient_code="Z1"), facility=OTHER) == known
    assert matches_of(db) == [(known, other, "candidate", "rejected")]
    with db.reader() as uow:
        assert [m.id for m in matches.list_matches(uow, status="rejected")] == [match_id]


def test_a_rejected_cccd_conflict_keeps_sending_the_conflicting_visits_to_the_other_person(db, province):
    holder, other = conflict(db)
    [match_id] = open_ids(db)
    with db.uow() as uow:
        matches.reject_match(uow, match_id, by="clerk", now=NOW)
    assert (
        store_visit(db, mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code=""), facility=OTHER)
        == other
    )
    assert store_visit(db, mai(), facility=OTHER) == holder
    assert persons(db) == 2 and open_ids(db) == []


def test_merging_re_points_or_closes_the_other_matches_of_the_merged_person(db, province):
    a = store_visit(db, mai(**NO_IDS, his_patient_code="A"), facility=TEST)
    b = namesake(db, "B")
    c = store_visit(db, mai(**NO_IDS, his_patient_code="C"), facility=TEST)
    assert matches_of(db) == [(a, b, "candidate", "open"), (a, c, "candidate", "open"), (b, c, "candidate", "open")]
    m_ab, m_ac, m_bc = open_ids(db)
    with db.uow() as uow:
        matches.confirm_match(uow, m_bc, by="clerk", now=NOW)  # c merged into b
    # (a, c) now pairs a with b, which (a, b) already proposes: it is dropped
    assert open_ids(db) == [m_ab]
    with db.uow() as uow:
        matches.confirm_match(uow, m_ab, by="clerk", now=NOW)  # b (holding c) merged into a
    assert persons(db) == 1 and len(visits_of(db, a)) == 3
    with db.reader() as uow:
        assert uow.session.get(Person, c).merged_into_id == a  # the chain is flattened
    assert m_ac not in [m[0] for m in matches_of(db)]


def test_a_decided_match_cannot_be_decided_again_and_an_unknown_one_is_not_found(db, province):
    conflict(db)
    [match_id] = open_ids(db)
    with db.uow() as uow:
        matches.reject_match(uow, match_id, by="clerk", now=NOW)
    with db.uow() as uow, pytest.raises(Conflict):
        matches.confirm_match(uow, match_id, by="clerk", now=NOW)
    with db.uow() as uow, pytest.raises(NotFound):
        matches.reject_match(uow, 999, by="clerk", now=NOW)


def test_a_reader_confined_to_a_hospital_sees_and_decides_only_its_persons_matches(db, province):
    conflict(db)
    [match_id] = open_ids(db)
    third, other = hospital_id(db, "third"), hospital_id(db, "other")
    with db.reader() as uow:
        assert matches.list_matches(uow, hospital_id=third) == []
        assert len(matches.list_matches(uow, hospital_id=other)) == 1
    with db.uow() as uow, pytest.raises(OtherHospital):
        uow.actor = Actor(kind="api_client", client_id=1, client_name="his-third", hospital_id=third)
        matches.confirm_match(uow, match_id, by="his-third", now=NOW)
    assert open_ids(db) == [match_id]


# --- the command ----------------------------------------------------------------------------------------------


@pytest.fixture
def run(database_url):
    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})
    bootstrap.load_settings()
    return lambda *args: runner.invoke(cli, ["emr", "matches", *args])


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("henkham: development mode")]


def test_the_command_lists_confirms_and_rejects(db, province, run):
    conflict(db)
    namesake(db, full_name="Tran Thi Mai", birth_month=None, birth_day=None)
    listed = run()
    assert listed.exit_code == 0, listed.output
    assert "cccd_conflict: same CCCD; differs: birth_date" in listed.stdout
    assert "CCCD ********1234" in listed.stdout and CCCD not in listed.stdout
    # the year-only namesake is a candidate of both (1985 agrees with either date)
    assert listed.stdout.rstrip().endswith("3 open matches")
    first, second, _ = open_ids(db)
    confirmed = run("confirm", str(first), "--by", "clerk-1", "--keep", "person")
    assert confirmed.exit_code == 0, confirmed.output
    assert confirmed.stdout.startswith(f"match {first} confirmed: person ")
    rejected = run("reject", str(second))
    assert rejected.exit_code == 0 and f"match {second} rejected" in rejected.stdout
    assert run("--status", "confirmed").stdout.rstrip().endswith("1 confirmed match")
    again = run("confirm", str(first))
    assert again.exit_code == 1 and error_lines(again) == [f"error: person match {first} is already confirmed"]
    unknown = run("reject", "999")
    assert unknown.exit_code == 1 and error_lines(unknown) == ["error: no person match 999"]
    for bad_id in ("abc", "0", str(2**31), "99999999999999999999"):  # not an id the database can hold
        bad = run("confirm", bad_id)
        assert bad.exit_code == 2 and len(error_lines(bad)) == 1 and error_lines(bad)[0].startswith("error: ")


# --- the API --------------------------------------------------------------------------------------------------


@pytest.fixture
def keys(db, province) -> dict[str, str]:
    with db.uow() as uow:
        return {
            "test": access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test"),
            "other": access.create_api_key(uow, name="his-other", kind="his", hospital_slug="other"),
            "third": access.create_api_key(uow, name="his-third", kind="his", hospital_slug="third"),
            "kiosk": access.create_api_key(uow, name="kiosk-test", kind="kiosk", hospital_slug="test"),
        }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_api_lists_and_decides_matches_with_the_his_scope(db, province, keys):
    client = create_app(database=db).test_client()
    holder, other = conflict(db)
    listed = client.get(API, headers=auth(keys["test"]))
    assert listed.status_code == 200, listed.json
    [view] = listed.json["matches"]
    assert view["kind"] == "cccd_conflict" and view["person"]["id"] == holder and view["other"]["id"] == other
    assert view["person"]["cccd"] == "********1234" and CCCD not in json.dumps(listed.json)
    with db.reader() as uow:
        audited = uow.session.scalars(
            select(AccessAudit.record_id).where(AccessAudit.record_kind == "emr_person_match")
        ).all()
    assert sorted(audited) == sorted([str(holder), str(other)])
    bad = client.post(f"{API}/{view['id']}/confirm", query_string={"keep": "both"}, headers=auth(keys["other"]))
    assert bad.status_code == 422
    confirmed = client.post(f"{API}/{view['id']}/confirm", query_string={"keep": "other"}, headers=auth(keys["other"]))
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["status"] == "confirmed" and confirmed.json["decided_by"] == "his-other"
    assert confirmed.json["person"]["birth_date"] == "1985-12-03"
    assert len(visits_of(db, holder)) == 2
    assert client.post(f"{API}/{view['id']}/reject", headers=auth(keys["test"])).status_code == 409
    assert client.post(f"{API}/999/reject", headers=auth(keys["test"])).json["error"]["code"] == "not_found"
    assert client.get(API, query_string={"status": "confirmed"}, headers=auth(keys["test"])).json["matches"]
    assert client.get(API, query_string={"status": "maybe"}, headers=auth(keys["test"])).status_code == 422


def test_the_api_refuses_keys_without_his_and_confines_keys_to_their_hospital(db, province, keys):
    client = create_app(database=db).test_client()
    conflict(db)
    [match_id] = open_ids(db)
    assert client.get(API).status_code == 401
    forbidden = client.get(API, headers=auth(keys["kiosk"]))
    assert forbidden.status_code == 403 and forbidden.json["error"]["code"] == "forbidden"
    assert client.post(f"{API}/{match_id}/confirm", headers=auth(keys["kiosk"])).status_code == 403
    assert client.get(API, headers=auth(keys["third"])).json == {"matches": []}
    refused = client.post(f"{API}/{match_id}/confirm", headers=auth(keys["third"]))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert client.post(f"{API}/{match_id}/reject", headers=auth(keys["third"])).status_code == 403
    assert open_ids(db) == [match_id]


def test_the_routes_are_in_the_openapi_document(db, province):
    spec = create_app(database=db).test_client().get("/api/v1/openapi.json").json
    assert {
        "/api/v1/emr/matches",
        "/api/v1/emr/matches/{match_id}/confirm",
        "/api/v1/emr/matches/{match_id}/reject",
    } <= set(spec["paths"])
    assert "MatchView" in spec["components"]["schemas"]


# --- real submission files through the importer ---------------------------------------------------------------


def test_confirming_an_imported_candidate_makes_one_record_with_both_visits(db, province):
    from core.emr.reading import person_record
    from tests import emr_his_files as his
    from tests.emr_people import READER, imported, person_of

    imported(db, TEST, his.outpatient(ma_lk="A1"))
    imported(db, OTHER, his.outpatient(ma_lk="B1", patient_code="NT-1", cccd="", cards=""))
    an, namesake = person_of(db, "A1"), person_of(db, "B1")
    [match_id] = open_ids(db)
    with db.uow() as uow:
        matches.confirm_match(uow, match_id, by="records-office", now=NOW)
    with db.reader() as uow:
        stored = person_record(uow, an, reader=READER, purpose="acceptance")
    assert sorted(v.facility_code for v in stored.record.visits) == [OTHER, TEST]
    assert stored.merged_ids == (namesake,)
    # the namesake's next visit at the other hospital (its patient code moved) is the one person's
    imported(db, OTHER, his.outpatient(ma_lk="B2", patient_code="NT-1", cccd="", cards=""))
    assert person_of(db, "B2") == an and open_ids(db) == []
