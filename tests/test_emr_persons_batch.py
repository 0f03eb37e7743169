"""The batch form of the master patient index (core.emr.persons.resolve_persons, what the importer calls for
each batch of visits) resolves exactly as the one-visit form called visit by visit: the same persons, the same
identifiers, the same conflict and candidate matches, the same booking profile links, for a batch where
visits depend on each other."""

from __future__ import annotations

from sqlalchemy import select

from core.emr.models import Person, PersonIdentifier, PersonMatch, ProfileLink
from core.emr.persons import resolve_person, resolve_persons
from tests.emr_people import CARD, CCCD, NOW, OTHER, TEST, mai, store_visit
from tests.factories import add_hospital, build_world, new_patient, today_local

BINH_CCCD = "079070004321"  # 0 (1900s, male), 70 (1970)
BINH_CARD = "GD4797900004321"


def binh(**changes: object):
    """Lê Văn Bình, born 01/01/1970, male, with his CCCD and card (``changes`` override)."""
    data: dict = {
        "full_name": "Lê Văn Bình",
        "birth_year": 1970,
        "birth_month": 1,
        "birth_day": 1,
        "sex": "male",
        "cccd": BINH_CCCD,
        "insurance_cards": (BINH_CARD,),
        "his_patient_code": "BN100",
    }
    data.update(changes)
    return mai(**data)


def tricky_batch() -> list[tuple[object, str]]:
    return [
        (mai(address="12 Lê Lợi, Quận 1"), TEST),  # the committed holder of her CCCD; fills her address
        (mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code="X9"), TEST),  # CCCD conflict
        (mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code="X10"), OTHER),  # its sibling
        (binh(), TEST),  # a new person (a profile and a committed namesake wait for him)
        (binh(cccd=None, his_patient_code="BN101"), OTHER),  # found by the card claimed two visits ago
        (binh(), TEST),  # the same CCCD twice in the batch
        (binh(cccd=None, insurance_cards=(), his_patient_code="BN102", birth_month=None, birth_day=None), OTHER),
        (binh(full_name="Lê Văn Bính Khác", cccd=None, his_patient_code="Z1"), TEST),  # card conflict
        (binh(cccd=None, insurance_cards=(), his_patient_code="BN100", phone="+84911111111"), TEST),  # by MA_BN
    ]


def snapshot(session, ids: list[int], before: int) -> dict:
    """What the resolution left, persons created by it named by creation order (ids differ between runs)."""
    new = sorted(session.scalars(select(Person.id).where(Person.id > before)).all())
    name = {person_id: f"new{n}" for n, person_id in enumerate(new)}

    def label(person_id: int) -> object:
        return name.get(person_id, person_id)

    columns = [c for c in Person.__table__.columns if c.name not in ("id", "merged_into_id")]
    persons = {
        label(row[0]): tuple(row[1:]) for row in session.execute(select(Person.id, *columns).order_by(Person.id)).all()
    }
    identifiers = sorted(
        (kind, facility, value, str(label(person_id)))
        for kind, facility, value, person_id in session.execute(
            select(PersonIdentifier.kind, PersonIdentifier.facility_code, PersonIdentifier.value,
                   PersonIdentifier.person_id)
        )
    )  # fmt: skip
    matches = [
        (label(a), label(b), kind, detail, status)
        for a, b, kind, detail, status in session.execute(
            select(PersonMatch.person_id, PersonMatch.other_person_id, PersonMatch.kind, PersonMatch.detail,
                   PersonMatch.status).order_by(PersonMatch.id)
        )
    ]  # fmt: skip
    links = sorted(
        (patient_id, str(label(person_id)), matched_by)
        for patient_id, person_id, matched_by in session.execute(
            select(ProfileLink.patient_id, ProfileLink.person_id, ProfileLink.matched_by)
        )
    )
    return {
        "ids": [label(i) for i in ids],
        "persons": persons,
        "identifiers": identifiers,
        "matches": matches,
        "links": links,
    }


def test_a_batch_resolves_as_visit_by_visit_resolution_does(db):
    world = build_world(db, start=today_local(), days=1)
    add_hospital(db, "other")
    holder = store_visit(db, mai())
    namesake = store_visit(db, binh(cccd=None, insurance_cards=(), his_patient_code="OLD1"), facility=OTHER)
    profile = new_patient(
        db, world.account_id, 1, full_name="Lê Văn Bình", cccd=BINH_CCCD, date_of_birth=NOW.date().replace(1970, 1, 1)
    )
    with db.reader() as uow:
        before = max(uow.session.scalars(select(Person.id)).all())
    items = tricky_batch()

    with db.uow() as uow:  # one by one (rolled back)
        ids = [resolve_person(uow.session, identity, facility_code=f, now=NOW) for identity, f in items]
        one_by_one = snapshot(uow.session, ids, before)
        uow.rollback()
    with db.uow() as uow:  # the whole batch at once
        ids = resolve_persons(uow.session, items, now=NOW)
        batch = snapshot(uow.session, ids, before)
        uow.rollback()

    assert batch == one_by_one
    # and the batch is the tricky one it means to be
    assert batch["ids"][0] == holder and batch["ids"][1] == batch["ids"][2] == "new0"
    assert batch["ids"][3] == batch["ids"][4] == batch["ids"][5] == batch["ids"][8] == "new1"
    assert batch["ids"][6] == "new2" and batch["ids"][7] == "new3"
    kinds = [(a, b, kind) for a, b, kind, _detail, _status in batch["matches"]]
    assert (holder, "new0", "cccd_conflict") in kinds
    assert (namesake, "new1", "candidate") in kinds  # a committed namesake of the new person
    assert (namesake, "new2", "candidate") in kinds and ("new1", "new2", "candidate") in kinds  # and one of the batch
    assert ("new1", "new3", "card_conflict") in kinds
    assert (profile, "new1", "cccd") in batch["links"]
    assert ("sin", "", CARD[-10:], str(holder)) in batch["identifiers"]
    assert ("cccd", "", CCCD, str(holder)) in batch["identifiers"]
