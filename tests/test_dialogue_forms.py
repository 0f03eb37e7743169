"""The booking and change forms' validators, as Rasa calls them (no Rasa needed): what a message means in
the middle of a form, what is asked next, and that only a "yes" books, moves or cancels."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions import context
from bot.actions.booking import BOOKING_SLOTS, SubmitBooking, ValidateBookingForm
from bot.actions.changes import ValidateCancelForm
from bot.zalo_webhook.models import Conversation, ZaloOA
from core.booking import appointments
from core.booking.models import Appointment
from core.config import Settings
from henkham import bootstrap
from tests.factories import slot_at, today_local
from tests.harness import ROOT
from tests.zalo_helpers import OA_ID

DOMAIN = yaml.safe_load((ROOT / "bot/domain.yml").read_text(encoding="utf-8"))
SENDER = f"{OA_ID}:user-1"
pytestmark = pytest.mark.world(days=14)  # conftest's ``oa_world``: hospital "test" and the test OA's row


@pytest.fixture(autouse=True)
def actions_process(db) -> Iterator[None]:
    """The actions' database, wired as `henkham actions` wires its process."""
    actions_db = bootstrap.actions(Settings(database_url=db.url))
    yield
    actions_db.dispose()


def tracker(intent: str, slots: dict[str, Any] | None = None, *, text: str = "", active: bool = True, **entities: Any):
    values = dict.fromkeys(BOOKING_SLOTS) | {"requested_slot": None, "booking_code": None} | (slots or {})
    message = {
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [{"entity": name, "value": value} for name, value in entities.items()],
        "text": text,
    }
    return Tracker(
        SENDER,
        values,
        message,
        [{"event": "user", "text": text, "parse_data": message}],
        False,
        None,
        {"name": "booking_form"} if active else {},
        "action_listen",
    )


def run(action: Any, track: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, DOMAIN))
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}, dispatcher.messages


def test_the_first_message_fills_department_and_day_and_the_next_question_is_the_time(oa_world) -> None:
    monday = (today_local() + dt.timedelta(days=7 - today_local().weekday())).isoformat()
    when = {"date": monday, "time": None, "part_of_day": "morning", "text": "sáng thứ 2 tuần sau"}
    slots, _ = run(ValidateBookingForm(), tracker("book_appointment", active=False, department="nhi", time=when))
    assert slots["hospital"] == "test" and slots["department"] == "nhi"
    assert slots["visit_date"] == monday and slots["part_of_day"] == "morning"
    assert slots["requested_slot"] == "appointment_slot"


def test_changing_department_mid_form_drops_the_chosen_time(oa_world) -> None:
    known = {"hospital": "test", "department": "nhi", "appointment_slot": 5, "requested_slot": "patient_id"}
    slots, _ = run(ValidateBookingForm(), tracker("inform", known, text="đổi sang khoa mắt", department="mat"))
    assert slots["department"] == "mat" and slots["appointment_slot"] is None
    assert slots["requested_slot"] == "appointment_slot"


def test_another_day_clears_the_day_and_time(oa_world) -> None:
    known = {
        "hospital": "test",
        "department": "nhi",
        "visit_date": "2026-12-07",
        "appointment_slot": 5,
        "requested_slot": "confirmed",
        "patient_id": "1",
        "visit_type": "bhyt",
    }
    slots, _ = run(ValidateBookingForm(), tracker("deny", known, text="ngày khác"))  # it may read as a "no"
    assert slots["visit_date"] is None and slots["appointment_slot"] is None
    assert slots["requested_slot"] == "appointment_slot"


def test_a_department_the_hospital_lacks_is_refused_politely(oa_world) -> None:
    known = {"hospital": "test", "requested_slot": "department"}
    slots, messages = run(ValidateBookingForm(), tracker("inform", known, text="khoa ung bướu", department="ung_buou"))
    assert "department" not in slots
    assert "chưa có lịch khám cho khoa này" in messages[0]["text"]


def test_stopping_mid_form_clears_everything_and_books_nothing(oa_world, db) -> None:
    known = {"hospital": "test", "department": "nhi", "appointment_slot": 5, "requested_slot": "patient_id"}
    slots, messages = run(ValidateBookingForm(), tracker("deny", known, text="thôi không đặt nữa"))
    assert slots["requested_slot"] is None and slots["department"] is None
    assert "dừng đặt lịch" in messages[0]["text"]
    _, said = run(SubmitBooking(), tracker("deny", {"confirmed": None}))
    assert said == []
    with db.reader() as uow:
        assert uow.session.query(Appointment).count() == 0


def test_a_new_profile_asks_name_birth_date_sex_and_phone_in_turn(oa_world) -> None:
    known = {"hospital": "test", "department": "nhi", "appointment_slot": 5, "requested_slot": "patient_id"}
    slots, _ = run(ValidateBookingForm(), tracker("inform", known, patient_id="new_other"))
    assert slots["requested_slot"] == "new_name"
    known |= slots
    slots, _ = run(ValidateBookingForm(), tracker("deny", known, text="Lê Văn Tí"))  # a name read as a "no"
    assert slots["new_name"] == "Lê Văn Tí" and slots["requested_slot"] == "new_dob"
    known |= slots
    slots, messages = run(ValidateBookingForm(), tracker("inform", known, text="32/13/2020"))
    assert "new_dob" not in slots and "ngày sinh chưa đúng" in messages[0]["text"]
    slots, _ = run(ValidateBookingForm(), tracker("inform", known, text="05/06/2020"))
    assert slots["new_dob"] == "2020-06-05" and slots["requested_slot"] == "new_sex"
    known |= slots | {"new_sex": "male", "requested_slot": "phone"}
    slots, messages = run(ValidateBookingForm(), tracker("deny", known, text="thôi không đặt nữa"))
    assert slots["requested_slot"] is None and "dừng đặt lịch" in messages[0]["text"]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("sinh năm 91", "em đã ghi nhận năm sinh 1991. Anh/chị cho em xin thêm ngày và tháng sinh"),
        ("sinh nam 1991", "em đã ghi nhận năm sinh 1991. Anh/chị cho em xin thêm ngày và tháng sinh"),
        ("tháng 9 năm 1991", "em đã ghi nhận năm sinh 1991. Anh/chị cho em xin thêm ngày và tháng sinh"),
        ("3/9", "cho em xin thêm năm sinh"),
        ("15/08/2099", "ngày trong tương lai"),
        ("hôm qua", "ngày sinh chưa đúng"),
    ],
)
def test_an_incomplete_or_future_birth_date_is_asked_again_saying_why(oa_world, answer, said) -> None:
    known = {"hospital": "test", "department": "nhi", "appointment_slot": 5, "patient_id": "new_other"}
    known |= {"new_name": "Lê Văn Tí", "requested_slot": "new_dob"}
    slots, messages = run(ValidateBookingForm(), tracker("inform", known, text=answer))
    assert "new_dob" not in slots and slots["requested_slot"] == "new_dob"
    assert said in messages[0]["text"] and messages[0]["text"].startswith("Dạ")


@pytest.mark.parametrize("answer", ["3/9/91", "03-09-1991", "3 tháng 9 năm 1991", "ngay 3 thang 9 nam 91"])
def test_a_birth_date_with_a_two_digit_year_or_in_words_is_taken(oa_world, answer) -> None:
    known = {"hospital": "test", "department": "nhi", "appointment_slot": 5, "patient_id": "new_other"}
    known |= {"new_name": "Lê Văn Tí", "requested_slot": "new_dob"}
    slots, _ = run(ValidateBookingForm(), tracker("inform", known, text=answer))
    assert slots["new_dob"] == "1991-09-03" and slots["requested_slot"] == "new_sex"


def test_an_unrelated_answer_is_not_understood_and_the_question_comes_again(oa_world) -> None:
    known = {"hospital": "test", "department": "nhi", "requested_slot": "appointment_slot"}
    slots, messages = run(ValidateBookingForm(), tracker("affirm", known, text="ok"))
    assert slots["requested_slot"] == "appointment_slot" and slots["form_notice"] == 1
    assert "chưa hiểu" in messages[0]["text"]


def test_an_interruption_fills_nothing_so_the_rules_answer_it(oa_world) -> None:
    known = {"hospital": "test", "department": "nhi", "requested_slot": "appointment_slot"}
    slots, messages = run(ValidateBookingForm(), tracker("emergency", known, text="con tôi co giật"))
    assert slots == {"requested_slot": "appointment_slot"} and messages == []


def test_an_oa_of_several_hospitals_asks_which_one_first(oa_world, db) -> None:
    with db.uow() as uow:
        uow.session.query(ZaloOA).update({"hospital_id": None})
        uow.commit()
    context._OA_HOSPITALS.clear()  # the mapping is kept a minute per process; an operator change waits that long
    slots, _ = run(ValidateBookingForm(), tracker("book_appointment", active=False, department="nhi"))
    assert slots["requested_slot"] == "hospital"


def test_only_the_users_own_appointment_can_be_picked_to_cancel(oa_world, db) -> None:
    from core.booking import patients
    from core.booking import slots as slot_search

    with db.uow() as uow:
        stranger = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:someone-else")
        profile, _ = patients.register_patient(
            uow,
            account_id=stranger,
            full_name="Người Khác",
            date_of_birth=dt.date(1990, 1, 1),
            sex="male",
            phone="0912345678",
        )
        slot = slot_search.search_slots(uow, hospital_slug="test", department_slug="nhi", limit=1)[0]
        view, _ = appointments.book(
            uow,
            appointments.BookingRequest(slot_id=slot.id, patient_id=profile.id, channel="zalo", account_id=stranger),
        )
    track = tracker("cancel_appointment", {"requested_slot": "booking_code"}, booking_code=view.code)
    track.active_loop = {"name": "cancel_form"}
    slots, messages = run(ValidateCancelForm(), track)
    assert "booking_code" not in slots
    assert "không tìm thấy" in messages[0]["text"].lower()


def test_health_news_by_topic_subscribe_then_unsubscribe(oa_world, db) -> None:
    from bot.actions.information import SubscribeNews, UnsubscribeNews
    from core.booking import patients
    from core.news import subscriptions

    _, said = run(SubscribeNews(), tracker("subscribe_news", active=False, news_topic="tiểu đường"))
    assert "Tiểu đường" in said[0]["text"]
    with db.reader() as uow:
        account = patients.find_account(uow, "zalo", SENDER)
        assert subscriptions.active_topics(uow, account, "test") == ["tieu_duong"]
    _, said = run(UnsubscribeNews(), tracker("unsubscribe_news", active=False))
    assert "hủy nhận tin" in said[0]["text"]
    with db.reader() as uow:
        assert subscriptions.active_topics(uow, account, "test") == []


def test_a_news_topic_is_read_from_the_patients_words_not_a_synonyms_value(oa_world, db) -> None:
    from bot.actions.information import SubscribeNews
    from core.booking import patients
    from core.news import subscriptions

    said_text = "đăng ký nhận tin về tiểu đường"
    track = tracker("subscribe_news", active=False, text=said_text)
    # As Rasa's synonym mapper leaves it: the department synonym rewrote the topic's value.
    track.latest_message["entities"] = [{"entity": "news_topic", "value": "noi_tiet", "start": 20, "end": 30}]
    _, said = run(SubscribeNews(), track)
    assert "Tiểu đường" in said[0]["text"]
    with db.reader() as uow:
        account = patients.find_account(uow, "zalo", SENDER)
        assert subscriptions.active_topics(uow, account, "test") == ["tieu_duong"]


def test_questions_are_answered_from_the_hospitals_data(oa_world) -> None:
    from bot.actions.information import AnswerFaq

    _, said = run(
        AnswerFaq(), tracker("ask_opening_hours", active=False, text="khoa nhi mấy giờ làm", department="nhi")
    )
    assert "khoa Nhi" in said[0]["text"] and "7:00" in said[0]["text"]
    _, said = run(AnswerFaq(), tracker("ask_cost", active=False, text="khám bao nhiêu tiền"))
    assert " đ" in said[0]["text"]


def test_an_emergency_gives_115_and_the_hospitals_number_and_flags_staff(oa_world, db) -> None:
    from bot.actions.support import Emergency
    from core.booking import catalogue

    _, said = run(Emergency(), tracker("emergency", active=False, text="bé nhà em co giật"))
    with db.reader() as uow:
        emergency_phone = catalogue.get_hospital(uow, "test").emergency_phone
        flagged = uow.session.scalar(select(Conversation.needs_staff).where(Conversation.user_id == "user-1"))
    assert "115" in said[0]["text"] and emergency_phone in said[0]["text"]
    assert flagged is True


def confirmed_booking(slot_id: int, department: str, name: str) -> dict[str, Any]:
    return {
        "hospital": "test",
        "department": department,
        "appointment_slot": slot_id,
        "patient_id": "new_other",
        "new_name": name,
        "new_dob": "1960-03-04",
        "new_sex": "female",
        "phone": "0912345678",
        "visit_type": "bhyt",
        "confirmed": True,
    }


def test_a_chat_user_cannot_fill_slots_with_invented_relatives(oa_world, db) -> None:
    capped = bootstrap.actions(Settings(database_url=db.url, api_max_profiles_per_account=2))
    try:
        day = today_local() + dt.timedelta(days=3)
        for n, name in enumerate(("Lê Thị Một", "Lê Thị Hai", "Lê Thị Ba")):
            department = "nhi" if n % 2 == 0 else "mat"
            slot = slot_at(db, department, day + dt.timedelta(days=n), "07:00")
            booking = tracker("affirm", confirmed_booking(slot, department, name))
            booking.events.insert(0, {"event": "active_loop", "name": "booking_form", "timestamp": 1000.0 + n})
            _, said = run(SubmitBooking(), booking)  # three booking forms, one new relative each
        assert "tối đa 2 hồ sơ" in said[0]["text"], said
        with db.reader() as uow:
            assert uow.session.query(Appointment).count() == 2
    finally:
        capped.dispose()


def test_a_slot_of_another_place_than_the_one_confirmed_is_not_booked(oa_world, db) -> None:
    eye_slot = slot_at(db, "mat", today_local() + dt.timedelta(days=3), "07:00")
    _, said = run(SubmitBooking(), tracker("affirm", confirmed_booking(eye_slot, "nhi", "Lê Thị Bốn")))
    assert "không thuộc khoa anh/chị đã chọn" in said[0]["text"], said
    with db.reader() as uow:
        assert uow.session.query(Appointment).count() == 0
