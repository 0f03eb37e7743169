"""The booking form when the patient says who the visit is for ("cho mẹ", "cho bé"): the validator and the
question of who goes, as Rasa calls them (no Rasa needed; the stack tests are in test_dialogue_profiles.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.actions.booking import AskPatient, SubmitBooking, ValidateBookingForm, ask_confirm_booking
from bot.actions.context import PROVIDER
from core.booking import patients
from core.booking.models import Patient
from tests.factories import slot_at, today_local
from tests.test_dialogue_forms import SENDER, actions_process, run, tracker  # noqa: F401 (the fixture wires actions)

pytestmark = pytest.mark.world(days=14)
ACCOUNT = PROVIDER, SENDER  # the account the chat user of ``tracker`` books with
FORM = {"hospital": "test", "department": "nhi", "appointment_slot": 5, "requested_slot": "patient_id"}


def profile(db, name: str, relation: str, sex: str, born: dt.date = dt.date(1960, 3, 4)) -> int:
    with db.uow() as uow:
        account = patients.get_or_create_account(uow, *ACCOUNT)
        view, _ = patients.register_patient(
            uow, account_id=account, full_name=name, date_of_birth=born, sex=sex, phone="0912345678", relation=relation
        )
    return view.id


def test_the_one_profile_that_fits_is_picked_and_said(oa_world, db) -> None:
    mother = profile(db, "Trần Thị Bình", "mother", "female")
    profile(db, "Trần Văn Cường", "father", "male")
    slots, messages = run(ValidateBookingForm(), tracker("inform", FORM, text="cho mẹ em", relation="mother"))
    assert slots["patient_id"] == str(mother) and slots["requested_slot"] == "visit_type"
    assert "Trần Thị Bình (mẹ)" in messages[0]["text"]


def test_a_parent_stored_without_the_detail_fits_by_sex(oa_world, db) -> None:
    father = profile(db, "Trần Văn Cường", "parent", "male")
    profile(db, "Trần Thị Bình", "parent", "female")
    slots, _ = run(ValidateBookingForm(), tracker("inform", FORM, text="cho ba em", relation="father"))
    assert slots["patient_id"] == str(father)


def test_several_children_are_offered_and_no_one_else(oa_world, db) -> None:
    profile(db, "Lê Văn Tí", "son", "male", dt.date(2018, 1, 1))
    profile(db, "Lê Thị Na", "child", "female", dt.date(2020, 1, 1))
    profile(db, "Lê Văn Ba", "self", "male", dt.date(1988, 1, 1))
    slots, _ = run(ValidateBookingForm(), tracker("book_appointment", FORM, text="cho bé", relation="child"))
    assert slots["patient_id"] is None and slots["patient_relation"] == "child"
    assert slots["requested_slot"] == "patient_id"
    _, messages = run(AskPatient(), tracker("inform", FORM | slots))
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert titles == ["Lê Văn Tí (con trai)", "Lê Thị Na (con)", "Con khác (hồ sơ mới)"]


def test_the_childs_name_picks_among_several(oa_world, db) -> None:
    profile(db, "Lê Văn Tí", "son", "male", dt.date(2018, 1, 1))
    na = profile(db, "Lê Thị Na", "child", "female", dt.date(2020, 1, 1))
    slots, messages = run(ValidateBookingForm(), tracker("inform", FORM, text="cho bé Na", relation="child"))
    assert slots["patient_id"] == str(na) and "Lê Thị Na (con)" in messages[0]["text"]


def test_booking_for_a_parent_stored_without_the_detail_keeps_the_detail_said(oa_world, db) -> None:
    father = profile(db, "Trần Văn Cường", "parent", "male")
    mother = profile(db, "Trần Thị Bình", "parent", "female")
    son = profile(db, "Trần Văn Tí", "son", "male", dt.date(2015, 1, 2))
    slots, _ = run(ValidateBookingForm(), tracker("inform", FORM, text="cho ba em", relation="father"))
    slot = slot_at(db, "nhi", today_local() + dt.timedelta(days=3), "07:00")
    known = FORM | slots | {"appointment_slot": slot, "visit_type": "bhyt", "confirmed": True}
    run(SubmitBooking(), tracker("affirm", known))
    slots, _ = run(ValidateBookingForm(), tracker("inform", FORM, text="cho bé", relation="child"))
    slot = slot_at(db, "nhi", today_local() + dt.timedelta(days=3), "07:30")
    run(
        SubmitBooking(),
        tracker("affirm", FORM | slots | {"appointment_slot": slot, "visit_type": "bhyt", "confirmed": True}),
    )
    with db.reader() as uow:
        stored = {p.id: p.relation for p in uow.session.scalars(select(Patient))}
    assert stored[father] == "father"  # "ba" said of a parent: kept as said
    assert stored[mother] == "parent"  # not the one booked for
    assert stored[son] == "son"  # "bé" says less than what is stored: nothing lost


def test_a_relation_is_refined_only_to_a_detail_that_fits(oa_world, db) -> None:
    father = profile(db, "Trần Văn Cường", "parent", "male")
    with db.uow() as uow:
        account = patients.get_or_create_account(uow, *ACCOUNT)
        other = patients.get_or_create_account(uow, PROVIDER, "someone-else")
        assert not patients.refine_relation(uow, father, account, "mother")  # a man is no mother
        assert not patients.refine_relation(uow, father, other, "father")  # not this account's profile
        assert not patients.refine_relation(uow, father, account, "wife")  # not a detail of parent
        assert not patients.refine_relation(uow, father, account, "nonsense")
        assert patients.refine_relation(uow, father, account, "father")
        uow.commit()
    with db.reader() as uow:
        assert uow.session.get(Patient, father).relation == "father"


def test_no_profile_that_fits_starts_a_relatives_profile_that_keeps_the_relation(oa_world, db) -> None:
    profile(db, "Lê Văn Ba", "self", "male", dt.date(1988, 1, 1))
    slots, _ = run(ValidateBookingForm(), tracker("inform", FORM, text="cho bà nội", relation="grandmother"))
    assert slots["patient_id"] == "new_other" and slots["new_sex"] == "female"  # "bà" says it: not asked
    assert slots["requested_slot"] == "new_name"
    slot = slot_at(db, "nhi", today_local() + dt.timedelta(days=3), "07:00")
    known = FORM | slots | {"appointment_slot": slot, "new_name": "Lê Thị Lựu", "new_dob": "1945-02-03"}
    known |= {"phone": "0912345678", "visit_type": "bhyt", "confirmed": True}
    summary = ask_confirm_booking_messages(known)
    assert "Người khám: Lê Thị Lựu (bà)" in summary["text"]
    assert "Đổi người khám" in [b["title"] for b in summary["buttons"]]
    run(SubmitBooking(), tracker("affirm", known))
    with db.reader() as uow:
        stored = uow.session.scalars(select(Patient).where(Patient.full_name == "Lê Thị Lựu")).one()
    assert (stored.relation, stored.sex) == ("grandmother", "female")


def test_changing_who_goes_asks_again_among_every_profile(oa_world, db) -> None:
    mother = profile(db, "Trần Thị Bình", "mother", "female")
    known = FORM | {"patient_id": str(mother), "patient_relation": "mother", "requested_slot": "confirmed"}
    slots, _ = run(ValidateBookingForm(), tracker("inform", known, change="patient"))
    assert slots["patient_id"] is None and slots["patient_relation"] is None
    assert slots["requested_slot"] == "patient_id"
    _, messages = run(AskPatient(), tracker("inform", known | slots))
    assert "ai là người đi khám" in messages[0]["text"]
    assert "Trần Thị Bình (mẹ)" in [b["title"] for b in messages[0]["buttons"]]


def test_for_myself_picks_my_own_profile(oa_world, db) -> None:
    mine = profile(db, "Lê Văn Ba", "self", "male", dt.date(1988, 1, 1))
    profile(db, "Lê Văn Tí", "son", "male", dt.date(2018, 1, 1))
    slots, _ = run(ValidateBookingForm(), tracker("book_appointment", FORM, text="cho tôi", relation="self"))
    assert slots["patient_id"] == str(mine)


def ask_confirm_booking_messages(values: dict) -> dict:
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    ask_confirm_booking(dispatcher, tracker("inform", values))
    return dispatcher.messages[0]
