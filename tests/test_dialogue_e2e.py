"""The assistant end to end, through the real stack: a signed webhook from the Zalo simulator, the inbox
worker, the Rasa server with the trained model, the action server, the core services and the database, the
outbox and the sender back to the simulator.

PostgreSQL when reachable (CI requires it), else SQLite. The Rasa server is trained on first use (a few
minutes on a fresh clone; ``make train`` does it ahead).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from bot.zalo_webhook.handoff import hand_back
from bot.zalo_webhook.models import Conversation
from bot.zalo_webhook.notices import ZaloNotifier
from bot.zalo_webhook.rasa_bridge import RasaBot
from core.booking.models import Appointment
from core.booking.services import load_catalogue
from core.reminders.planning import kinds_of, plan_appointment_reminders
from core.timeutil import local_today, utcnow
from tests.dialogue_stack import REPLY_TIMEOUT, DialogueStack, buttons_of, hospital_dialogue, text_of
from tests.zalo_helpers import OA_ID

pytestmark = pytest.mark.needs_rasa  # skipped without .venv-rasa, failed when HENKHAM_REQUIRE_RASA=1
_users = itertools.count(1)
CODE = re.compile(r"Mã lịch hẹn: ([A-Z0-9]{6})")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialogueStack]:
    with hospital_dialogue(tmp_path_factory.mktemp("dialogue")) as running:
        yield running


def new_user() -> str:
    return f"e2e-user-{next(_users)}"


def next_monday(today: dt.date) -> dt.date:
    """ "thứ 2 tuần sau": the Monday of next week."""
    return today + dt.timedelta(days=7 - today.weekday())


def book_by_chat(stack: DialogueStack, user: str, first: str = "cho em đặt lịch khám nhi sáng thứ 2 tuần sau") -> str:
    """The patient's booking conversation, as a patient taps and types it; returns the booking code."""
    before = appointment_count(stack)
    offer = stack.say(user, first)[-1]
    assert "giờ trống" in offer["text"] and buttons_of(offer), text_of([offer])
    who = stack.tap(user, offer, "–")[-1]  # the first offered time ("Thứ Hai 07/12 – 07:00")
    name_question = stack.tap(user, who, "Tôi đi khám")
    assert "họ và tên" in text_of(name_question)
    assert "sinh" in text_of(stack.say(user, "Nguyễn Thị Mai"))
    sex_question = stack.say(user, "01/05/1990")[-1]
    phone_question = stack.tap(user, sex_question, "Nữ")
    assert "số điện thoại" in text_of(phone_question)
    kind_question = stack.say(user, "0912 345 678")[-1]
    summary = stack.tap(user, kind_question, "BHYT")[-1]
    assert "Nguyễn Thị Mai" in summary["text"] and "Nhi" in summary["text"]
    assert appointment_count(stack) == before, "nothing is booked before the patient's yes"
    done = text_of(stack.tap(user, summary, "Xác nhận"))
    found = CODE.search(done)
    assert found, done
    return found.group(1)


def appointment_count(stack: DialogueStack) -> int:
    with stack.db.reader() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Appointment)) or 0)


def appointment(stack: DialogueStack, code: str) -> Appointment:
    with stack.db.reader() as uow:
        row = uow.session.scalars(select(Appointment).where(Appointment.code == code)).one()
        uow.session.expunge(row)
        return row


def test_a_booking_by_chat_ends_in_a_confirmed_appointment_with_a_real_code(stack: DialogueStack) -> None:
    user = new_user()
    code = book_by_chat(stack, user)
    booked = appointment(stack, code)
    assert booked.status == "booked"
    assert booked.day == next_monday(local_today())
    assert booked.part_of_day == "morning"


def test_a_service_the_hospital_names_books_into_the_department_that_does_it(stack: DialogueStack) -> None:
    # the NLU has never seen "đo khúc xạ tự động"; this hospital's catalogue says the eye clinic does it
    with stack.db.uow() as uow:
        load_catalogue(uow, "test", [("Đo khúc xạ tự động", "mat"), ("Khám sàng lọc sơ sinh", "nhi")])
    offer = stack.say(new_user(), "cho em đặt lịch đo khúc xạ tự động sáng thứ 2 tuần sau")[-1]
    assert "khoa Mắt" in offer["text"] and buttons_of(offer), text_of([offer])
    offer = stack.say(new_user(), "dat lich kham sang loc so sinh cho be")[-1]
    assert "khoa Nhi" in offer["text"], text_of([offer])


def test_nothing_is_booked_without_the_patients_yes(stack: DialogueStack) -> None:
    user = new_user()
    before = appointment_count(stack)
    offer = stack.say(user, "đặt lịch khám mắt")[-1]
    who = stack.tap(user, offer, "–")[-1]
    stack.tap(user, who, "Tôi đi khám")
    stack.say(user, "Trần Văn Bình")
    sex_question = stack.say(user, "12/3/1980")[-1]
    stack.tap(user, sex_question, "Nam")
    kind_question = stack.say(user, "0987654321")[-1]
    summary = stack.tap(user, kind_question, "dịch vụ")[-1]
    stopped = text_of(stack.tap(user, summary, "Không đặt"))
    assert "dừng đặt lịch" in stopped
    assert appointment_count(stack) == before


def test_check_reschedule_and_cancel_by_chat(stack: DialogueStack) -> None:
    user = new_user()
    code = book_by_chat(stack, user)
    old_start = appointment(stack, code).starts_at

    listing = stack.say(user, "lịch khám của tôi là khi nào")
    assert code in text_of(listing)

    choose = stack.say(user, "em muốn dời lịch khám")[-1]
    assert "giờ trống" in stack.tap(user, choose, code)[-1]["text"]
    offer = stack.say(user, "cho em chuyển sang sáng thứ 5 tuần sau")[-1]  # a day far enough to cancel later
    thursday = next_monday(local_today()) + dt.timedelta(days=3)
    assert f"{thursday:%d/%m}" in offer["text"] + str(buttons_of(offer))
    summary = stack.tap(user, offer, "–")[-1]
    assert "xác nhận đổi" in summary["text"].lower()
    assert appointment(stack, code).starts_at == old_start  # not moved before the yes
    moved = text_of(stack.tap(user, summary, "Xác nhận"))
    assert "đổi lịch thành công" in moved
    assert appointment(stack, code).day == thursday

    choose = stack.say(user, "hủy lịch hẹn giúp em")[-1]
    confirm = stack.tap(user, choose, code)[-1]
    assert appointment(stack, code).status == "booked"
    cancelled = text_of(stack.tap(user, confirm, "Xác nhận hủy"))
    assert f"đã hủy lịch hẹn {code}" in cancelled
    assert appointment(stack, code).status == "cancelled"


def test_an_emergency_is_answered_first_with_115_and_flagged_for_staff(stack: DialogueStack) -> None:
    user = new_user()
    replies = stack.say(user, "cứu với ba tôi đau ngực dữ dội khó thở")
    assert "115" in replies[0]["text"]
    with stack.db.reader() as uow:
        conversation = uow.session.scalars(select(Conversation).where(Conversation.user_id == user)).one()
        assert conversation.needs_staff


def test_asking_for_staff_silences_the_bot_until_staff_hand_back(stack: DialogueStack) -> None:
    user = new_user()
    handed = text_of(stack.say(user, "cho tôi gặp nhân viên"))
    assert "nhân viên" in handed
    assert stack.say(user, "alo có ai không", expect_reply=False) == []
    assert stack.say(user, "đặt lịch khám nhi", expect_reply=False) == []

    hand_back(stack.db, RasaBot(stack.rasa_url, REPLY_TIMEOUT, token=stack.rasa_token), OA_ID, user, "staff-1")
    answer = stack.say(user, "đặt lịch khám nhi")
    assert "giờ trống" in text_of(answer)


def reminder_for(stack: DialogueStack, user: str, code: str, minutes: int) -> dict:
    """A reminder due now (its offset reaches ``minutes`` beyond now; each call a new kind, so a new one),
    planned as the scheduler plans it; waits until the user has it."""
    after = max((m["seq"] for m in stack.simulator.messages()), default=0)
    ahead = appointment(stack, code).starts_at - utcnow() + dt.timedelta(minutes=minutes)
    kinds = kinds_of([ahead.total_seconds() / 3600])
    assert plan_appointment_reminders(stack.db, ZaloNotifier(), kinds) >= 1  # other tests' visits may be due too
    found = stack.simulator.messages(user_id=user, after=str(after), wait="30")
    assert found and "xin nhắc lịch khám" in found[-1]["message"]["text"], found
    return found[-1]["message"]


def test_a_reminders_buttons_confirm_reschedule_and_cancel_in_the_chat(stack: DialogueStack) -> None:
    user = new_user()
    code = book_by_chat(stack, user)
    with stack.db.uow() as uow:  # booked long ago, so that reminders are due now (the visit is days ahead)
        uow.session.execute(
            update(Appointment).where(Appointment.code == code).values(created_at=utcnow() - dt.timedelta(days=9))
        )
        uow.commit()

    reminder = reminder_for(stack, user, code, 3)
    assert code in reminder["text"] and [b["title"] for b in buttons_of(reminder)] == [
        "Xác nhận sẽ đến",
        "Đổi lịch",
        "Hủy lịch",
    ]
    assert "đã ghi nhận" in text_of(stack.tap(user, reminder, "Xác nhận sẽ đến"))
    assert appointment(stack, code).confirmed_at is not None

    reminder = reminder_for(stack, user, code, 2)
    offer = stack.tap(user, reminder, "Đổi lịch")[-1]
    assert "giờ trống" in offer["text"], "the reschedule dialogue starts on that booking"
    stack.say(user, "thôi không đổi nữa")

    reminder = reminder_for(stack, user, code, 1)
    confirm = stack.tap(user, reminder, "Hủy lịch")[-1]
    assert code in text_of([confirm]) and appointment(stack, code).status == "booked", "asks first"
    assert f"đã hủy lịch hẹn {code}" in text_of(stack.tap(user, confirm, "Xác nhận hủy"))
    assert appointment(stack, code).status == "cancelled"
