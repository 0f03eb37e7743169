"""Booking for a relative by chat, through the real stack (the Zalo simulator's signed webhook, the inbox worker,
the Rasa server with the trained model and its relation extractor, the action server, the database): "cho mẹ"
picks the mother's profile, "cho bé" starts a child's profile, "cho con trai toi" typed without diacritics a
son's."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.booking import patients
from core.booking.models import Appointment, Patient
from tests.dialogue_stack import DialogueStack, buttons_of, hospital_dialogue, text_of
from tests.test_dialogue_e2e import CODE
from tests.zalo_helpers import OA_ID

pytestmark = pytest.mark.needs_rasa  # skipped without .venv-rasa, failed when HENKHAM_REQUIRE_RASA=1
_users = itertools.count(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialogueStack]:
    with hospital_dialogue(tmp_path_factory.mktemp("profiles")) as running:
        yield running


def new_user() -> str:
    return f"profiles-user-{next(_users)}"


def add_profile(stack: DialogueStack, user: str, name: str, relation: str, sex: str, born: dt.date) -> int:
    """A profile the user's account already has (booked for before, or added in the Mini App)."""
    with stack.db.uow() as uow:
        account = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:{user}")
        view, _ = patients.register_patient(
            uow, account_id=account, full_name=name, date_of_birth=born, sex=sex, phone="0912345678", relation=relation
        )
    return view.id


def confirm(stack: DialogueStack, user: str, summary: dict) -> Appointment:
    done = text_of(stack.tap(user, summary, "Xác nhận"))
    found = CODE.search(done)
    assert found, done
    with stack.db.reader() as uow:
        booked = uow.session.scalars(select(Appointment).where(Appointment.code == found.group(1))).one()
        uow.session.expunge(booked)
        return booked


def stored_profile(stack: DialogueStack, patient_id: int) -> Patient:
    with stack.db.reader() as uow:
        found = uow.session.get(Patient, patient_id)
        uow.session.expunge(found)
        return found


def test_for_my_mother_the_mothers_profile_is_picked_and_shown(stack: DialogueStack) -> None:
    user = new_user()
    mother = add_profile(stack, user, "Trần Thị Bình", "mother", "female", dt.date(1958, 11, 2))
    add_profile(stack, user, "Trần Văn Cường", "father", "male", dt.date(1955, 4, 9))
    replies = stack.say(user, "cho mẹ tôi khám mắt")
    assert "Trần Thị Bình (mẹ)" in text_of(replies)  # who was picked is said at once
    offer = replies[-1]
    assert "giờ trống" in offer["text"] and buttons_of(offer), text_of(replies)
    kind_question = stack.tap(user, offer, "–")[-1]  # no "who goes" question, no new profile
    assert "BHYT" in kind_question["text"], kind_question
    summary = stack.tap(user, kind_question, "BHYT")[-1]
    assert "Người khám: Trần Thị Bình (mẹ)" in summary["text"]
    assert "Đổi người khám" in [b["title"] for b in buttons_of(summary)]
    assert confirm(stack, user, summary).patient_id == mother


def test_for_the_baby_without_a_profile_a_childs_profile_is_made(stack: DialogueStack) -> None:
    user = new_user()
    add_profile(stack, user, "Lê Văn Ba", "self", "male", dt.date(1988, 1, 1))
    offer = stack.say(user, "đặt lịch khám nhi cho bé")[-1]
    assert "giờ trống" in offer["text"], offer
    name_question = text_of(stack.tap(user, offer, "–"))
    assert "họ và tên đầy đủ của con" in name_question, name_question
    assert "sinh" in text_of(stack.say(user, "Lê Thị Na"))
    sex_question = stack.say(user, "05/06/2021")[-1]  # "bé" says no sex: asked
    assert "nam hay nữ" in sex_question["text"]
    phone_question = stack.tap(user, sex_question, "Nữ")
    assert "số điện thoại" in text_of(phone_question)
    kind_question = stack.say(user, "0912 345 678")[-1]
    summary = stack.tap(user, kind_question, "BHYT")[-1]
    assert "Người khám: Lê Thị Na (con)" in summary["text"]
    child = stored_profile(stack, confirm(stack, user, summary).patient_id)
    assert (child.full_name, child.relation, child.sex) == ("Lê Thị Na", "child", "female")


def test_for_my_son_typed_without_diacritics_a_sons_profile_is_made(stack: DialogueStack) -> None:
    user = new_user()
    add_profile(stack, user, "Lê Thị Na", "daughter", "female", dt.date(2021, 6, 5))  # a daughter is no son
    offer = stack.say(user, "dat lich kham nhi cho con trai toi")[-1]
    assert "giờ trống" in offer["text"], offer
    assert "họ và tên" in text_of(stack.tap(user, offer, "–"))
    assert "sinh" in text_of(stack.say(user, "Le Van Ti"))
    phone_question = stack.say(user, "12/3/2019")  # "con trai" says a boy: the sex is not asked
    assert "số điện thoại" in text_of(phone_question), text_of(phone_question)
    kind_question = stack.say(user, "0912345678")[-1]
    summary = stack.tap(user, kind_question, "BHYT")[-1]
    assert "(con trai)" in summary["text"]
    son = stored_profile(stack, confirm(stack, user, summary).patient_id)
    assert (son.relation, son.sex, son.date_of_birth) == ("son", "male", dt.date(2019, 3, 12))
